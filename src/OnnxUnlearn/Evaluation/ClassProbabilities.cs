using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;

namespace OnnxUnlearn.Evaluation;

/// <summary>
/// The class probabilities (softmax) a classifier gives to samples: what the membership inference
/// attacks and the activation distance look at. Logits are put through a softmax, a LogSoftmax head
/// through exp; a Softmax head is read as it is.
/// </summary>
public static class ClassProbabilities
{
    /// <summary>
    /// Probabilities of the samples at <paramref name="indices"/> (all when null), row-major
    /// [indices.Count, ClassCount]. A fixed batch size of the model's input is honoured (the last
    /// batch padded, the padding's rows dropped).
    /// </summary>
    public static float[] Compute(InferenceSession session, ClassifierInfo info, ILabeledDataset data,
        IReadOnlyList<int>? indices = null, int batchSize = Evaluator.DefaultBatchSize)
    {
        indices ??= Enumerable.Range(0, data.Count).ToArray();
        var classCount = info.ClassCount;
        var result = new float[indices.Count * classCount];
        Evaluator.RunBatches(session, info, data, batchSize, indices,
            (output, first, count) => CopyRows(output, count, classCount, info.Output.Name, result.AsSpan(first * classCount, count * classCount)));
        ToProbabilities(result, classCount, info.Head);
        return result;
    }

    /// <summary>Turns each row of raw outputs into probabilities, in place, as the head requires.</summary>
    public static void ToProbabilities(Span<float> rows, int classCount, HeadKind head)
    {
        for (var start = 0; start < rows.Length; start += classCount)
        {
            var row = rows.Slice(start, classCount);
            switch (head)
            {
                case HeadKind.Logits:
                    Softmax(row);
                    break;
                case HeadKind.LogSoftmax:
                    foreach (ref var v in row) v = MathF.Exp(v);
                    break;
                case HeadKind.Softmax:
                    break;
            }
        }
    }

    /// <summary>Numerically stable softmax of one row, in place.</summary>
    public static void Softmax(Span<float> row)
    {
        var max = float.NegativeInfinity;
        foreach (var v in row) max = MathF.Max(max, v);
        double sum = 0;
        foreach (ref var v in row)
        {
            v = MathF.Exp(v - max);
            sum += v;
        }
        foreach (ref var v in row) v = (float)(v / sum);
    }

    /// <summary>The argmax of each row (the first on ties).</summary>
    public static int[] Predictions(ReadOnlySpan<float> probabilities, int classCount)
    {
        var predictions = new int[probabilities.Length / classCount];
        for (var i = 0; i < predictions.Length; i++)
        {
            var row = probabilities.Slice(i * classCount, classCount);
            var best = 0;
            for (var c = 1; c < classCount; c++)
                if (row[c] > row[best]) best = c;
            predictions[i] = best;
        }
        return predictions;
    }

    private static void CopyRows(OrtValue output, int count, int classCount, string outputName, Span<float> destination)
    {
        var info = output.GetTensorTypeAndShape();
        var shape = info.Shape;
        if (shape.Length != 2 || shape[0] < count || shape[1] != classCount)
            throw new InvalidOperationException($"output '{outputName}' has shape [{string.Join(", ", shape)}] at run time; expected [{count}, {classCount}]");
        var n = count * classCount;
        switch (info.ElementDataType)
        {
            case TensorElementType.Float:
                output.GetTensorDataAsSpan<float>()[..n].CopyTo(destination);
                break;
            case TensorElementType.Double:
                var doubles = output.GetTensorDataAsSpan<double>();
                for (var i = 0; i < n; i++) destination[i] = (float)doubles[i];
                break;
            case TensorElementType.Float16:
                var halves = output.GetTensorDataAsSpan<Float16>();
                for (var i = 0; i < n; i++) destination[i] = halves[i].ToFloat();
                break;
            default:
                throw new UserInputException($"output '{outputName}' has element type {info.ElementDataType}; a float output of class scores is required");
        }
    }
}
