using Google.Protobuf;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Evaluation;

public sealed class EvaluatorTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private ILabeledDataset Open(ClassifierInfo info, float[] x, int[] shape, long[] y)
    {
        var path = TestData.Npz(_dir[$"data-{Guid.NewGuid():N}.npz"], x, shape, y);
        return DatasetLoader.Open(new DataOptions { Path = path }, info.Input);
    }

    [TestCase(256)]
    [TestCase(3)]
    [TestCase(1)]
    public void CountsOverallAndPerClassAccuracy(int batch)
    {
        var model = TestModels.Passthrough();
        var info = ClassifierInfo.Analyze(model, "passthrough");
        var (x, y) = TestData.Passthrough10();
        using var data = Open(info, x, [10, 3], y);

        var report = Evaluator.Evaluate(model, info, data, Device.Cpu(1), batch);

        Assert.That(report.Count, Is.EqualTo(10));
        Assert.That(report.Correct, Is.EqualTo(7));
        Assert.That(report.Accuracy, Is.EqualTo(0.7));
        Assert.That(report.ClassCounts, Is.EqualTo(new[] { 4, 4, 2 }));
        Assert.That(report.ClassCorrect, Is.EqualTo(new[] { 3, 2, 2 }));
        Assert.That(report.PerClassAccuracy, Is.EqualTo(new double?[] { 0.75, 0.5, 1.0 }));
        Assert.That(report.ForgetClasses, Is.Null);
        Assert.That(report.ForgetAccuracy, Is.Null);
        Assert.That(report.RetainAccuracy, Is.Null);
    }

    [Test]
    public void ForgetAndRetainAccuracySplitTheClasses()
    {
        var model = TestModels.Passthrough();
        var info = ClassifierInfo.Analyze(model, "passthrough");
        var (x, y) = TestData.Passthrough10();
        using var data = Open(info, x, [10, 3], y);

        var report = Evaluator.Evaluate(model, info, data, Device.Cpu(1), forgetClasses: new HashSet<int> { 1 });

        Assert.That(report.ForgetClasses, Is.EqualTo(new[] { 1 }));
        Assert.That(report.ForgetAccuracy, Is.EqualTo(0.5));
        Assert.That(report.RetainAccuracy, Is.EqualTo(5.0 / 6));
        Assert.That((report.ForgetCount, report.RetainCount), Is.EqualTo((4, 6)));
    }

    [Test]
    public void AClassAbsentFromTheDataHasNoAccuracy()
    {
        var model = TestModels.Passthrough(classes: 4);
        var info = ClassifierInfo.Analyze(model, "passthrough");
        float[] x = [1, 0, 0, 0, 0, 1, 0, 0];
        using var data = Open(info, x, [2, 4], [0, 1]);
        var report = Evaluator.Evaluate(model, info, data, Device.Cpu(1), forgetClasses: new HashSet<int> { 3 });
        Assert.That(report.PerClassAccuracy, Is.EqualTo(new double?[] { 1, 1, null, null }));
        Assert.That(report.ForgetAccuracy, Is.Null, "no sample of the forget class");
        Assert.That(report.RetainAccuracy, Is.EqualTo(1));
    }

    [Test]
    public void AFixedBatchModelIsFedPaddedBatches()
    {
        var model = TestModels.Passthrough(batch: 4);
        var info = ClassifierInfo.Analyze(model, "passthrough");
        var (x, y) = TestData.Passthrough10();
        using var data = Open(info, x, [10, 3], y);
        var report = Evaluator.Evaluate(model, info, data, Device.Cpu(1), batchSize: 256);
        Assert.That(report.Count, Is.EqualTo(10));
        Assert.That(report.ClassCorrect, Is.EqualTo(new[] { 3, 2, 2 }));
    }

    [Test]
    public void ASoftmaxHeadGivesTheSamePredictions()
    {
        var model = TestModels.Passthrough(softmax: true);
        var info = ClassifierInfo.Analyze(model, "passthrough");
        Assert.That(info.Head, Is.EqualTo(HeadKind.Softmax));
        var (x, y) = TestData.Passthrough10();
        using var data = Open(info, x, [10, 3], y);
        Assert.That(Evaluator.Evaluate(model, info, data, Device.Cpu(1)).Correct, Is.EqualTo(7));
    }

    [Test]
    public void ModelBytesAndAnOpenSessionGiveTheSameReport()
    {
        var model = TestModels.Cnn(classes: 4);
        var info = ClassifierInfo.Analyze(model, "cnn");
        var (x, y) = TestData.RandomImages(37, 1, 8, 4);
        using var data = Open(info, x, [37, 1, 8, 8], y);
        var fromModel = Evaluator.Evaluate(model, info, data, Device.Cpu(1), 16);
        var fromBytes = Evaluator.Evaluate(model.ToProto().ToByteArray(), info, data, Device.Cpu(1), 5);
        using var session = Evaluator.OpenSession(model, Device.Cpu(1));
        var predictions = Evaluator.Predict(session, info, data, 8);
        Assert.That(fromBytes.ClassCorrect, Is.EqualTo(fromModel.ClassCorrect));
        Assert.That(AccuracyReport.FromPredictions(data.Labels, predictions, 4).ClassCorrect, Is.EqualTo(fromModel.ClassCorrect));
    }

    [Test]
    public void ASubsetOfIndicesIsEvaluatedInOrder()
    {
        var model = TestModels.Passthrough();
        var info = ClassifierInfo.Analyze(model, "passthrough");
        var (x, y) = TestData.Passthrough10();
        using var data = Open(info, x, [10, 3], y);
        using var session = Evaluator.OpenSession(model, Device.Cpu(1));
        Assert.That(Evaluator.Predict(session, info, data, 2, [9, 0, 4]), Is.EqualTo(new[] { 2, 0, 1 }));
        var report = Evaluator.Evaluate(session, info, data, 2, indices: [3, 6, 7]);
        Assert.That(report.Count, Is.EqualTo(3));
        Assert.That(report.Correct, Is.EqualTo(0));
    }

    [Test]
    public void LabelsOutsideTheClassesAreAUserError()
    {
        var model = TestModels.Passthrough();
        var info = ClassifierInfo.Analyze(model, "passthrough");
        using var data = Open(info, [1, 0, 0, 0, 1, 0], [2, 3], [0, 7]);
        var e = Assert.Throws<UserInputException>(() => Evaluator.Evaluate(model, info, data, Device.Cpu(1)));
        Assert.That(e!.Message, Does.Contain("label 7"));
    }

    [Test]
    public void ForgetClassesOutsideTheModelAreAUserError()
    {
        var model = TestModels.Passthrough();
        var info = ClassifierInfo.Analyze(model, "passthrough");
        using var data = Open(info, [1, 0, 0], [1, 3], [0]);
        Assert.Throws<UserInputException>(() => Evaluator.Evaluate(model, info, data, Device.Cpu(1), forgetClasses: new HashSet<int> { 3 }));
    }

    [Test]
    public void ReportFromCountsHandlesAnEmptyDataSet()
    {
        var report = new AccuracyReport([0, 0], [0, 0], new HashSet<int> { 0 });
        Assert.That(report.Accuracy, Is.EqualTo(0));
        Assert.That(report.PerClassAccuracy, Is.EqualTo(new double?[] { null, null }));
        Assert.That(report.ForgetAccuracy, Is.Null);
        Assert.That(report.RetainAccuracy, Is.Null);
    }
}
