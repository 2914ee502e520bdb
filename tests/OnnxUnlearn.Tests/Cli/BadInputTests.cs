using Google.Protobuf;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Tests.Evaluation;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Cli;

/// <summary>
/// The bad-input table of the foundation issue, each case through the CLI entry point: exit code 2,
/// one line "error: ..." naming the culprit, no stack trace, and no file left behind.
/// </summary>
public sealed class BadInputTests
{
    private TempDir _dir = null!;
    private string _model = "";
    private string _data = "";

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir();
        _model = TestModels.Save(TestModels.Passthrough(), _dir["good.onnx"]);
        var (x, y) = TestData.Passthrough10();
        _data = TestData.Npz(_dir["good.npz"], x, [10, 3], y);
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    /// <summary>Runs the CLI and checks the error contract, and that the folder holds the same files after.</summary>
    private void AssertUserError(string[] args, params string[] mentions)
    {
        var before = _dir.Files();
        var result = CliRunner.Run(args);
        TestContext.Out.WriteLine(result.Err.TrimEnd());
        CliRunner.AssertError(result, 2, mentions);
        Assert.That(_dir.Files(), Is.EqualTo(before), "a file was left behind");
    }

    private void AssertModelError(string modelPath, params string[] mentions)
    {
        AssertUserError(["inspect", modelPath], [modelPath, .. mentions]);
        AssertUserError(["eval", "--model", modelPath, "--data", _data], [modelPath, .. mentions]);
    }

    [Test]
    public void MissingModelFile() => AssertModelError(_dir["missing.onnx"], "not found");

    [Test]
    public void EmptyModelFile()
    {
        var path = _dir["empty.onnx"];
        File.WriteAllBytes(path, []);
        AssertModelError(path, "empty");
    }

    [Test]
    public void RandomBytes()
    {
        var bytes = new byte[4096];
        new Random(11).NextBytes(bytes);
        var path = _dir["random.onnx"];
        File.WriteAllBytes(path, bytes);
        AssertModelError(path, "not an ONNX model");
    }

    [Test]
    public void TruncatedProtobuf()
    {
        var bytes = File.ReadAllBytes(_model);
        var path = _dir["truncated.onnx"];
        File.WriteAllBytes(path, bytes[..(bytes.Length * 2 / 3)]);
        AssertModelError(path, "not an ONNX model");
    }

    [Test]
    public void AValidProtobufThatIsNotAModel()
    {
        var tensor = new TensorProto { Name = "weights", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 2, 2 }, FloatData = { 1, 2, 3, 4 } };
        var path = _dir["tensor.pb"];
        File.WriteAllBytes(path, tensor.ToByteArray());
        AssertModelError(path, "not an ONNX model");
    }

    [Test]
    public void AModelWithoutAGraph()
    {
        var proto = TestModels.Header();
        var path = _dir["nograph.onnx"];
        File.WriteAllBytes(path, proto.ToByteArray());
        AssertModelError(path, "no graph");
    }

    [Test]
    public void AFolderInsteadOfAModel() => AssertModelError(Directory.CreateDirectory(_dir["folder.onnx"]).FullName, "folder");

    [Test]
    public void MissingDataFile()
    {
        var path = _dir["missing.npz"];
        AssertUserError(["eval", "--model", _model, "--data", path], path, "not found");
    }

    [Test]
    public void EmptyDataFile()
    {
        var path = _dir["empty.npz"];
        File.WriteAllBytes(path, []);
        AssertUserError(["eval", "--model", _model, "--data", path], path, "empty");
    }

    [Test]
    public void DataThatIsNotAnNpz()
    {
        var path = _dir["text.npz"];
        File.WriteAllText(path, "this is not a zip archive at all, just some text");
        AssertUserError(["eval", "--model", _model, "--data", path], path);
    }

    [Test]
    public void NpzWithoutX()
    {
        var path = TestData.Npz(_dir["nox.npz"], ("y", TestData.Npy([0L, 1L])));
        AssertUserError(["eval", "--model", _model, "--data", path], path, "x");
    }

    [Test]
    public void NpzWithoutY()
    {
        var path = TestData.Npz(_dir["noy.npz"], ("x", TestData.Npy(new float[6], [2, 3])));
        AssertUserError(["eval", "--model", _model, "--data", path], path, "y");
    }

    [Test]
    public void NpzWithMismatchedLengths()
    {
        var path = TestData.Npz(_dir["mismatch.npz"], ("x", TestData.Npy(new float[9], [3, 3])), ("y", TestData.Npy([0L, 1L])));
        AssertUserError(["eval", "--model", _model, "--data", path], path, "3 samples", "2 labels");
    }

    [Test]
    public void LabelsOutsideTheModelsClassRange()
    {
        var path = TestData.Npz(_dir["labels.npz"], new float[6], [2, 3], [0, 3]);
        AssertUserError(["eval", "--model", _model, "--data", path], path, "label 3", "3 classes");
    }

    [Test]
    public void DataWhoseShapeCannotFeedTheModel()
    {
        var path = TestData.Npz(_dir["shape.npz"], new float[8], [2, 4], [0, 1]);
        AssertUserError(["eval", "--model", _model, "--data", path], path, "[4]", "[3]");
    }

    [Test]
    public void ImagesForAModelOfAnotherSize()
    {
        var cnn = TestModels.Save(TestModels.Cnn(size: 8), _dir["cnn.onnx"]);
        var path = TestData.Npz(_dir["big.npz"], new float[2 * 28 * 28], [2, 1, 28, 28], [0, 1]);
        AssertUserError(["eval", "--model", cnn, "--data", path], path, "28");
    }

    [Test]
    public void AModelThatIsNotAClassifier()
    {
        var model = TestModels.Mlp();
        model.Graph.AddInput("extra", TensorTypes.Float(-1, 2));
        var path = TestModels.Save(model, _dir["two.onnx"]);
        AssertUserError(["eval", "--model", path, "--data", _data], path, "2 data inputs");
    }

    [TestCase("--classes", "3", "class 3")]
    [TestCase("--classes", "1,1", "twice")]
    [TestCase("--classes", "cat", "'cat'")]
    [TestCase("--classes", "1,,2", "empty")]
    [TestCase("--batch", "0", "--batch")]
    [TestCase("--threads", "-2", "--threads")]
    [TestCase("--device", "tpu", "--device")]
    [TestCase("--device", "cuda", "CPU build")]
    [TestCase("--preprocess", "bogus", "bogus")]
    [TestCase("--std", "0", "--std")]
    [TestCase("--scale", "abc", "--scale")]
    public void BadValues(string flag, string value, string mention) =>
        AssertUserError(["eval", "--model", _model, "--data", _data, flag, value], mention);

    [Test]
    public void Tf32_without_a_cuda_device_is_refused() =>
        AssertUserError(["eval", "--model", _model, "--data", _data, "--tf32"], "--tf32");
}
