using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Runtime;

namespace OnnxUnlearn.Evaluation;

/// <summary>
/// Runs a classifier over a labelled data set with ONNX Runtime, in batches read ahead by a
/// <see cref="BatchReader"/>, and measures its accuracy. A model whose input has a fixed batch size
/// is fed batches of exactly that size (the last one padded, the padding's predictions dropped).
/// </summary>
public static class Evaluator
{
    public const int DefaultBatchSize = 256;

    /// <summary>
    /// Evaluates a model read from a file (or built in memory), with the initializers named in
    /// <paramref name="weights"/> taking those values (see <see cref="OpenSession"/>).
    /// </summary>
    /// <exception cref="UserInputException">A label is outside the model's classes, the device cannot be used, or ONNX Runtime refuses the model.</exception>
    public static AccuracyReport Evaluate(Model model, ClassifierInfo info, ILabeledDataset data, Device device,
        int batchSize = DefaultBatchSize, IReadOnlySet<int>? forgetClasses = null, Action<int, int>? progress = null,
        IReadOnlyDictionary<string, float[]>? weights = null)
    {
        using var session = OpenSession(model, device, weights);
        return Evaluate(session, info, data, batchSize, forgetClasses, progress: progress);
    }

    /// <summary>
    /// Evaluates a serialized model (e.g. a trained model held in memory). <paramref name="info"/> is
    /// used for its input and output names and its class count, so it may come from the model these
    /// bytes were made from. External data is resolved against <paramref name="externalDataFolder"/>.
    /// </summary>
    public static AccuracyReport Evaluate(byte[] modelBytes, ClassifierInfo info, ILabeledDataset data, Device device,
        int batchSize = DefaultBatchSize, IReadOnlySet<int>? forgetClasses = null, string? externalDataFolder = null,
        Action<int, int>? progress = null)
    {
        using var session = SessionFactory.Create(modelBytes, device, externalDataFolder);
        return Evaluate(session, info, data, batchSize, forgetClasses, progress: progress);
    }

    /// <summary>Evaluates with an open session, on all samples or on <paramref name="indices"/>.</summary>
    public static AccuracyReport Evaluate(InferenceSession session, ClassifierInfo info, ILabeledDataset data,
        int batchSize = DefaultBatchSize, IReadOnlySet<int>? forgetClasses = null, IReadOnlyList<int>? indices = null,
        Action<int, int>? progress = null)
    {
        DatasetLoader.CheckLabels(data, info.ClassCount);
        CheckClasses(forgetClasses, info.ClassCount);
        indices ??= Enumerable.Range(0, data.Count).ToArray();
        var predictions = Predict(session, info, data, batchSize, indices, progress);
        var labels = indices.Select(i => data.Labels[i]).ToArray();
        return AccuracyReport.FromPredictions(labels, predictions, info.ClassCount, forgetClasses);
    }

    /// <summary>
    /// The predicted class (argmax of the classifier output) of each sample in <paramref name="indices"/>
    /// (all samples when null), in that order. <paramref name="progress"/> gets (batches done, batch count).
    /// </summary>
    public static int[] Predict(InferenceSession session, ClassifierInfo info, ILabeledDataset data,
        int batchSize = DefaultBatchSize, IReadOnlyList<int>? indices = null, Action<int, int>? progress = null)
    {
        indices ??= Enumerable.Range(0, data.Count).ToArray();
        var predictions = new int[indices.Count];
        RunBatches(session, info, data, batchSize, indices,
            (output, first, count) => Argmax(output, count, info.ClassCount, info.Output.Name, predictions.AsSpan(first, count)), progress);
        return predictions;
    }

    /// <summary>
    /// Runs the classifier over the samples at <paramref name="indices"/> in batches decoded ahead by
    /// a <see cref="BatchReader"/>, and hands each batch's output to <paramref name="onBatch"/> with the
    /// position of its first sample in <paramref name="indices"/> and its sample count. A fixed batch
    /// size of the model's input is honoured: the last batch is padded and the padding's rows ignored.
    /// </summary>
    internal static void RunBatches(InferenceSession session, ClassifierInfo info, ILabeledDataset data, int batchSize,
        IReadOnlyList<int> indices, Action<OrtValue, int, int> onBatch, Action<int, int>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (indices.Count == 0) return;
        var inputName = info.Input.Name;
        var outputName = info.Output.Name;
        if (!session.InputMetadata.TryGetValue(inputName, out var inputMeta))
            throw new ArgumentException($"the session has no input '{inputName}'", nameof(info));
        if (!session.OutputMetadata.ContainsKey(outputName))
            throw new ArgumentException($"the session has no output '{outputName}'", nameof(info));
        var fixedBatch = inputMeta.Dimensions.Length > 0 && inputMeta.Dimensions[0] > 0 ? inputMeta.Dimensions[0] : 0;
        if (fixedBatch > 0) batchSize = fixedBatch;

        var sampleSize = info.Input.SampleSize;
        long[] sampleDims = [.. info.Input.SampleDims.Select(d => (long)d)];
        float[]? padded = null;
        using var reader = new BatchReader(data, indices, batchSize);
        using var runOptions = new RunOptions();
        var done = 0;
        foreach (var batch in reader.ReadAll())
        {
            var count = batch.Count;
            var feedCount = count;
            Memory<float> samples = batch.Samples;
            if (fixedBatch > 0 && count < fixedBatch)
            {
                padded ??= GC.AllocateArray<float>(fixedBatch * sampleSize, pinned: true);
                Array.Clear(padded);
                batch.Samples.CopyTo(padded);
                samples = padded;
                feedCount = fixedBatch;
            }
            using (var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, samples, [feedCount, .. sampleDims]))
            using (var outputs = Run(session, runOptions, inputName, input, outputName, batch.Number))
                onBatch(outputs.First(), batch.Number * batchSize, count);
            reader.Return(batch);
            progress?.Invoke(++done, reader.BatchCount);
        }
    }

    /// <summary>
    /// A CPU or CUDA session for a model, with the initializers named in <paramref name="weights"/>
    /// taking those values (trained weights: large external ones are read from the arrays without a
    /// copy, see <see cref="SessionFactory"/>, so they must not change while the session lives); a
    /// model ONNX Runtime cannot load is a user error naming the file.
    /// </summary>
    public static InferenceSession OpenSession(Model model, Device device, IReadOnlyDictionary<string, float[]>? weights = null)
    {
        var folder = model.Path is null ? null : Path.GetDirectoryName(Path.GetFullPath(model.Path));
        try
        {
            return SessionFactory.Create(model.ToProto(), device, folder, weights ?? new Dictionary<string, float[]>());
        }
        catch (OnnxRuntimeException e) when (model.Path is not null)
        {
            throw new UserInputException($"{model.Path}: ONNX Runtime cannot load the model: {FirstLine(e.Message)}", e);
        }
    }

    private static IDisposableReadOnlyCollection<OrtValue> Run(InferenceSession session, RunOptions runOptions, string inputName, OrtValue input, string outputName, int batchNumber)
    {
        try
        {
            return session.Run(runOptions, [inputName], [input], [outputName]);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"ONNX Runtime failed on batch {batchNumber}: {FirstLine(e.Message)}", e);
        }
    }

    private static void Argmax(OrtValue output, int count, int classCount, string outputName, Span<int> predictions)
    {
        var info = output.GetTensorTypeAndShape();
        var shape = info.Shape;
        if (shape.Length != 2 || shape[0] < count || shape[1] != classCount)
            throw new InvalidOperationException($"output '{outputName}' has shape [{string.Join(", ", shape)}] at run time; expected [{count}, {classCount}]");
        switch (info.ElementDataType)
        {
            case TensorElementType.Float:
                Argmax(output.GetTensorDataAsSpan<float>(), classCount, predictions);
                break;
            case TensorElementType.Double:
                Argmax(output.GetTensorDataAsSpan<double>(), classCount, predictions);
                break;
            case TensorElementType.Float16:
                var halves = output.GetTensorDataAsSpan<Float16>();
                var floats = new float[count * classCount];
                for (var i = 0; i < floats.Length; i++) floats[i] = halves[i].ToFloat();
                Argmax<float>(floats, classCount, predictions);
                break;
            default:
                throw new UserInputException($"output '{outputName}' has element type {info.ElementDataType}; a float output of class scores is required");
        }
    }

    /// <summary>Index of the largest score per row; the first on ties; NaN never wins.</summary>
    private static void Argmax<T>(ReadOnlySpan<T> scores, int classCount, Span<int> predictions) where T : struct, IComparable<T>
    {
        for (var i = 0; i < predictions.Length; i++)
        {
            var row = scores.Slice(i * classCount, classCount);
            var best = 0;
            for (var c = 1; c < classCount; c++)
                if (row[c].CompareTo(row[best]) > 0) best = c;
            predictions[i] = best;
        }
    }

    private static void CheckClasses(IReadOnlySet<int>? classes, int classCount)
    {
        if (classes?.FirstOrDefault(c => c < 0 || c >= classCount, -1) is >= 0 and var bad)
            throw new UserInputException($"class {bad} is outside the model's {classCount} classes (0..{classCount - 1})");
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();
}
