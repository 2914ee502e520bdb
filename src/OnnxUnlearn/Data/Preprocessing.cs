using System.Globalization;

namespace OnnxUnlearn.Data;

/// <summary>
/// How raw sample values become model inputs: x' = (x * Scale - Mean[c]) / Std[c] per channel c
/// (per feature for flat inputs); a Mean or Std of length 1 applies to every channel. Raw values
/// are pixels 0..255 for images and uint8 arrays, and the stored values for float arrays and CSV.
/// </summary>
public sealed record Preprocessing(float Scale, float[] Mean, float[] Std)
{
    /// <summary>Model metadata key under which the preprocessing a model expects is recorded.</summary>
    public const string MetadataKey = "onnx_unlearn.preprocess";

    private const float OneOver255 = 1f / 255f;

    private static readonly Dictionary<string, Preprocessing> Presets = new(StringComparer.OrdinalIgnoreCase)
    {
        ["imagenet"] = new(OneOver255, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]),
        ["cifar10"] = new(OneOver255, [0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f]),
        ["mnist"] = new(OneOver255, [0.1307f], [0.3081f]),
        ["fmnist"] = new(OneOver255, [0.2860f], [0.3530f]),
        ["none"] = new(1f, [0f], [1f]),
    };

    /// <summary>Scale 1, mean 0, std 1: values pass unchanged.</summary>
    public static Preprocessing None => FromPreset("none");

    /// <summary>The names <see cref="FromPreset"/> accepts.</summary>
    public static IReadOnlyCollection<string> PresetNames => Presets.Keys;

    /// <summary>A named preset (imagenet, cifar10, mnist, fmnist, none; case-insensitive); all scale pixels by 1/255 except none.</summary>
    /// <exception cref="UserInputException">Unknown name; the message lists the valid ones.</exception>
    public static Preprocessing FromPreset(string name) =>
        Presets.TryGetValue(name, out var preset)
            ? preset with { Mean = [.. preset.Mean], Std = [.. preset.Std] } // copies: callers may not touch the shared arrays
            : throw new UserInputException($"--preprocess: unknown preprocessing '{name}'; use one of {string.Join(", ", Presets.Keys)}");

    /// <summary>
    /// The preset (default none) with the explicit --scale, --mean and --std values put over it.
    /// Scale is a number or a fraction ("0.00392157" or "1/255"); mean and std are one number or a
    /// comma-separated list ("0.485,0.456,0.406"). Invariant culture.
    /// </summary>
    /// <exception cref="UserInputException">A value is not a number (or std is not positive); the message names the flag.</exception>
    public static Preprocessing Parse(string? preset, string? scale, string? mean, string? std)
    {
        var result = preset is null ? None : FromPreset(preset);
        if (scale is not null)
            result = result with { Scale = ParseScale(scale) };
        if (mean is not null)
            result = result with { Mean = ParseList(mean, "--mean") };
        if (std is not null)
            result = result with { Std = ParseList(std, "--std") };
        if (result.Std.Any(s => s <= 0))
            throw new UserInputException($"--std: every value must be positive, got '{FormatList(result.Std)}'");
        return result;
    }

    public override string ToString() => $"scale={Format(Scale)} mean=[{FormatList(Mean)}] std=[{FormatList(Std)}]";

    /// <summary>"scale=…;mean=…;std=…" with round-trip precision: the value of <see cref="MetadataKey"/>.</summary>
    public string ToMetadata() =>
        string.Create(CultureInfo.InvariantCulture, $"scale={Scale:R};mean={string.Join(",", Mean.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))};std={string.Join(",", Std.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}");

    /// <summary>Reads <see cref="ToMetadata"/>'s form back.</summary>
    /// <exception cref="UserInputException">The text is not in that form; the message names <paramref name="source"/>.</exception>
    public static Preprocessing FromMetadata(string text, string source)
    {
        var parts = text.Split(';').Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0].Trim(), p => p[1]);
        if (!parts.TryGetValue("scale", out var scale) || !parts.TryGetValue("mean", out var mean) || !parts.TryGetValue("std", out var std))
            throw new UserInputException($"{source}: metadata '{MetadataKey}' = '{text}' is not 'scale=…;mean=…;std=…'; pass --preprocess or --scale/--mean/--std");
        return Parse(null, scale, mean, std);
    }

    private static float ParseScale(string text)
    {
        var slash = text.IndexOf('/');
        if (slash < 0)
            return ParseNumber(text, text, "--scale");
        var denominator = ParseNumber(text[(slash + 1)..], text, "--scale");
        if (denominator == 0)
            throw new UserInputException($"--scale: '{text}' divides by zero");
        return ParseNumber(text[..slash], text, "--scale") / denominator;
    }

    private static float[] ParseList(string text, string flag) =>
        text.Split(',').Select(part => ParseNumber(part, text, flag)).ToArray();

    private static float ParseNumber(string part, string whole, string flag)
    {
        if (float.TryParse(part.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && float.IsFinite(value))
            return value;
        var inWhole = part == whole ? "" : $" in '{whole}'";
        throw new UserInputException($"{flag}: '{part.Trim()}'{inWhole} is not a number");
    }

    private static string Format(float value) => value.ToString("G6", CultureInfo.InvariantCulture);

    private static string FormatList(float[] values) => string.Join(",", values.Select(Format));
}
