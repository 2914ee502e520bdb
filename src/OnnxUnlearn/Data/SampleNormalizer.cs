namespace OnnxUnlearn.Data;

/// <summary>
/// Applies a <see cref="Preprocessing"/> to samples already in the target's layout, computing
/// x' = x * (Scale / Std[c]) + (-Mean[c] / Std[c]) with one multiply-add per element.
/// Immutable, so thread-safe.
/// </summary>
internal sealed class SampleNormalizer
{
    private readonly InputSpec target;
    private readonly float[] multiplier;
    private readonly float[] offset;

    /// <summary>Per-channel values: one per image channel, or one per feature for flat inputs.</summary>
    private SampleNormalizer(InputSpec target, float[] multiplier, float[] offset)
    {
        this.target = target;
        this.multiplier = multiplier;
        this.offset = offset;
    }

    public static SampleNormalizer Create(Preprocessing preprocessing, InputSpec target)
    {
        var channels = target.Layout == InputLayout.Flat ? target.SampleSize : target.Channels;
        var unit = (target.Layout == InputLayout.Flat ? "feature" : "channel") + (channels == 1 ? "" : "s");
        var accepted = channels == 1 ? "1 value" : $"1 or {channels} values";
        foreach (var (values, flag) in new[] { (preprocessing.Mean, "mean"), (preprocessing.Std, "std") })
        {
            if (values.Length != 1 && values.Length != channels)
                throw new UserInputException($"the preprocessing {flag} has {values.Length} values (from --{flag} or --preset) but the model input '{target.Name}' has {channels} {unit}; give {accepted}");
        }

        var multiplier = new float[channels];
        var offset = new float[channels];
        for (var c = 0; c < channels; c++)
        {
            var mean = preprocessing.Mean[preprocessing.Mean.Length == 1 ? 0 : c];
            var std = preprocessing.Std[preprocessing.Std.Length == 1 ? 0 : c];
            multiplier[c] = preprocessing.Scale / std;
            offset[c] = -mean / std;
        }
        return new SampleNormalizer(target, multiplier, offset);
    }

    /// <summary>Normalizes one sample in place; <paramref name="sample"/> has the target's sample size.</summary>
    public void Apply(Span<float> sample)
    {
        switch (target.Layout)
        {
            case InputLayout.Nchw:
                var plane = target.Height * target.Width;
                for (var c = 0; c < multiplier.Length; c++)
                    MultiplyAdd(sample.Slice(c * plane, plane), multiplier[c], offset[c]);
                break;
            case InputLayout.Nhwc:
                var channels = multiplier.Length;
                for (var i = 0; i < sample.Length; i += channels)
                {
                    for (var c = 0; c < channels; c++)
                        sample[i + c] = sample[i + c] * multiplier[c] + offset[c];
                }
                break;
            default:
                for (var i = 0; i < sample.Length; i++)
                    sample[i] = sample[i] * multiplier[i] + offset[i];
                break;
        }
    }

    private static void MultiplyAdd(Span<float> values, float multiplier, float offset)
    {
        for (var i = 0; i < values.Length; i++)
            values[i] = values[i] * multiplier + offset;
    }
}
