using OnnxUnlearn.Tests.Data;

namespace OnnxUnlearn.Tests.Evaluation;

/// <summary>Small labelled .npz files for evaluation and CLI tests.</summary>
public static class TestData
{
    /// <summary>Writes x (float32, shape [N, ..sampleDims]) and y (int64) as an .npz.</summary>
    public static string Npz(string path, float[] x, int[] shape, long[] y)
    {
        DataFiles.WriteNpz(path, compressed: false, ("x", DataFiles.Npy(x, shape)), ("y", DataFiles.Npy(y, [y.Length])));
        return path;
    }

    /// <summary>Writes arbitrary named arrays (for bad-input tests).</summary>
    public static string Npz(string path, params (string Name, byte[] Npy)[] arrays)
    {
        DataFiles.WriteNpz(path, compressed: false, arrays);
        return path;
    }

    public static byte[] Npy(float[] values, int[] shape) => DataFiles.Npy(values, shape);

    public static byte[] Npy(long[] values) => DataFiles.Npy(values, [values.Length]);

    /// <summary>
    /// Ten samples for a 3-class passthrough model (prediction = argmax of the features):
    /// class 0: 4 samples, 3 right; class 1: 4 samples, 2 right; class 2: 2 samples, 2 right.
    /// </summary>
    public static (float[] X, long[] Y) Passthrough10()
    {
        int[] predicted = [0, 0, 0, 1, 1, 1, 0, 2, 2, 2];
        long[] labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2];
        var x = new float[predicted.Length * 3];
        for (var i = 0; i < predicted.Length; i++)
        {
            for (var c = 0; c < 3; c++) x[i * 3 + c] = 0.1f * c;
            x[i * 3 + predicted[i]] = 5 + i;
        }
        return (x, labels);
    }

    /// <summary>Random uint8-range images [N, C, H, W] as float32 with random labels.</summary>
    public static (float[] X, long[] Y) RandomImages(int count, int channels, int size, int classes, int seed = 5)
    {
        var random = new Random(seed);
        var x = new float[count * channels * size * size];
        for (var i = 0; i < x.Length; i++) x[i] = random.Next(256);
        var y = Enumerable.Range(0, count).Select(_ => (long)random.Next(classes)).ToArray();
        return (x, y);
    }
}
