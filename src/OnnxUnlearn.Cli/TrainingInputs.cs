using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Serialization;

namespace OnnxUnlearn.Cli;

/// <summary>
/// What every verb that trains starts from: the model, checked up front to be differentiable (the
/// blocking nodes are named before any time is spent), its classifier facts, and the labelled data
/// (and optional test data) with their labels checked against the model's classes. Disposing closes the data.
/// </summary>
public sealed class TrainingInputs : IDisposable
{
    private TrainingInputs(Model model, ClassifierInfo info, DataOptions dataOptions, ILabeledDataset data, ILabeledDataset? test)
    {
        Model = model;
        Info = info;
        DataOptions = dataOptions;
        Data = data;
        Test = test;
    }

    public Model Model { get; }
    public ClassifierInfo Info { get; }
    public DataOptions DataOptions { get; }
    public ILabeledDataset Data { get; }
    public ILabeledDataset? Test { get; }

    /// <summary>Opens the model and the data; warnings about the data go to <paramref name="err"/>.</summary>
    /// <exception cref="UserInputException">The model, the data or the flags cannot be used.</exception>
    public static TrainingInputs Open(DataOptionsBase flags, TextWriter err, string modelPath, string? testPath = null)
    {
        var model = ModelFile.LoadForCompute(modelPath);
        var info = ClassifierInfo.Analyze(model, modelPath);
        ModelInspector.CheckTrainability(model, info).ThrowIfBlocked(modelPath);
        var dataOptions = flags.ToDataOptions(model);
        var data = DatasetLoader.Open(dataOptions, info.Input);
        ILabeledDataset? test = null;
        try
        {
            DatasetLoader.CheckLabels(data, info.ClassCount);
            flags.WarnIfUnscaledPixels(data, model, err);
            test = testPath is null ? null : DatasetLoader.Open(flags.ToDataOptions(model, testPath), info.Input);
            if (test is not null) DatasetLoader.CheckLabels(test, info.ClassCount);
            return new TrainingInputs(model, info, dataOptions, data, test);
        }
        catch
        {
            data.Dispose();
            test?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Data.Dispose();
        Test?.Dispose();
    }
}
