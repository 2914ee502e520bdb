using System.Globalization;

namespace OnnxUnlearn.Cli.Output;

/// <summary>How numbers look in text output (invariant culture).</summary>
public static class Format
{
    /// <summary>"91.23 %" for 0.9123; "-" for null.</summary>
    public static string Percent(double? fraction, int decimals = 2) =>
        fraction is { } f ? (f * 100).ToString("F" + decimals, CultureInfo.InvariantCulture) + " %" : "-";

    /// <summary>"1,234,567".</summary>
    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>"312.5 KiB", "1.2 GiB".</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes} B" : value.ToString(value < 10 ? "0.00" : value < 100 ? "0.0" : "0", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    /// <summary>"1.23 s".</summary>
    public static string Seconds(double seconds) => seconds.ToString(seconds < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " s";
}
