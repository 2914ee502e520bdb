namespace OnnxUnlearn.Data;

/// <summary>How the model lays out one sample of its input.</summary>
public enum InputLayout
{
    /// <summary>Channels first: [C, H, W] per sample (PyTorch convention).</summary>
    Nchw,
    /// <summary>Channels last: [H, W, C] per sample (TensorFlow/Keras convention).</summary>
    Nhwc,
    /// <summary>A flat feature vector: [F] per sample.</summary>
    Flat,
}

/// <summary>
/// What one sample must look like to feed the model's input: its name, layout and per-sample
/// dimensions (batch excluded), e.g. [1, 28, 28] for NCHW, [28, 28, 1] for NHWC, [784] for flat.
/// </summary>
public sealed record InputSpec(string Name, InputLayout Layout, int[] SampleDims)
{
    public int SampleSize => SampleDims.Aggregate(1, (a, b) => a * b);

    public int Channels => Layout switch
    {
        InputLayout.Nchw => SampleDims[0],
        InputLayout.Nhwc => SampleDims[^1],
        _ => 1,
    };

    public int Height => Layout switch
    {
        InputLayout.Nchw => SampleDims[1],
        InputLayout.Nhwc => SampleDims[0],
        _ => 1,
    };

    public int Width => Layout switch
    {
        InputLayout.Nchw => SampleDims[2],
        InputLayout.Nhwc => SampleDims[1],
        _ => SampleDims[0],
    };

    public override string ToString() => $"{Name} [{string.Join("x", SampleDims)}] {Layout}";
}
