using OnnxUnlearn.Serialization;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Serialization;

/// <summary>Writes are atomic: a failure leaves no file behind and existing files untouched.</summary>
public sealed class AtomicWriteTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void SaveIntoAMissingFolderIsAUserErrorAndWritesNothing()
    {
        var path = Path.Combine(_dir.Root, "no-such-folder", "out.onnx");
        var e = Assert.Throws<UserInputException>(() => ModelFile.Save(TestModels.Mlp().ToProto(), path));
        Assert.That(e!.Message, Does.Contain(path));
        Assert.That(e.Message, Does.Not.Contain("\n"));
        Assert.That(_dir.Files(), Is.Empty);
    }

    [Test]
    public void SaveOverAFolderIsAUserErrorAndLeavesNoTempFile()
    {
        var path = Directory.CreateDirectory(_dir["taken.onnx"]).FullName;
        var e = Assert.Throws<UserInputException>(() => ModelFile.Save(TestModels.Mlp().ToProto(), path));
        Assert.That(e!.Message, Does.Contain("taken.onnx"));
        Assert.That(_dir.Files(), Is.Empty);
        Assert.That(Directory.GetFileSystemEntries(path), Is.Empty);
    }

    [Test]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void SaveIntoAReadOnlyFolderIsAUserErrorAndWritesNothing()
    {
        if (Environment.UserName == "root")
            Assert.Ignore("permissions are not enforced for root");
        var folder = Directory.CreateDirectory(_dir["ro"]).FullName;
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            var path = Path.Combine(folder, "out.onnx");
            var e = Assert.Throws<UserInputException>(() => ModelFile.Save(TestModels.Mlp().ToProto(), path));
            Assert.That(e!.Message, Does.Contain(path));
            Assert.That(Directory.GetFileSystemEntries(folder), Is.Empty);
        }
        finally
        {
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Test]
    public void AFailingWriterLeavesTheOldFileUntouched()
    {
        var path = _dir["model.onnx"];
        File.WriteAllText(path, "old content");
        Assert.Throws<InvalidOperationException>(() => AtomicFiles.Write(path, stream =>
        {
            stream.Write(new byte[1000]);
            throw new InvalidOperationException("disk on fire");
        }));
        Assert.That(File.ReadAllText(path), Is.EqualTo("old content"));
        Assert.That(_dir.Files(), Is.EqualTo(new[] { "model.onnx" }));
    }

    [Test]
    public void AFailureOnTheSecondFileCommitsNeither()
    {
        using (var files = new AtomicFiles())
        {
            using (var first = files.Create(_dir["a.onnx"]))
                first.Write(new byte[10]);
            Assert.Throws<UserInputException>(() => files.Create(Path.Combine(_dir.Root, "missing", "b.onnx.data")));
        }
        Assert.That(_dir.Files(), Is.Empty);
    }

    [Test]
    public void ASuccessfulWriteReplacesTheFileAndLeavesNoTemp()
    {
        var path = _dir["model.onnx"];
        File.WriteAllText(path, "old");
        ModelFile.Save(TestModels.Mlp().ToProto(), path);
        Assert.That(_dir.Files(), Is.EqualTo(new[] { "model.onnx" }));
        Assert.That(ModelFile.Load(path).Graph.Nodes, Has.Count.EqualTo(3));
    }
}
