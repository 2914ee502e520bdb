using System.Globalization;
using OnnxUnlearn.Data;
using ScottPlot;
using SkiaSharp;

namespace OnnxUnlearn.Reporting;

/// <summary>A figure of one or more plots at a fixed size in pixels, to save as PNG or SVG.</summary>
public sealed class Chart(Multiplot figure, int width, int height)
{
    public int Width => width;
    public int Height => height;

    /// <summary>The plots of the figure (one per panel).</summary>
    public IReadOnlyList<Plot> Plots => figure.GetPlots();

    public byte[] ToPng() => figure.Render(width, height).GetImageBytes(ImageFormat.Png);

    /// <summary>An SVG document (text as SVG text, images embedded as PNG data).</summary>
    public byte[] ToSvg()
    {
        using var stream = new MemoryStream();
        using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, width, height), stream))
            figure.Render(canvas, new PixelRect(0, width, height, 0));
        return stream.ToArray();
    }
}

/// <summary>
/// The charts of an unlearning report, drawn with ScottPlot (SkiaSharp underneath; no display needed):
/// per-class accuracy of each model, loss per step of each phase, and the learned noise images.
/// </summary>
public static class Charts
{
    /// <summary>Colours of the series, in model order (before, after, baseline...).</summary>
    private static readonly Color[] SeriesColors =
    [
        Color.FromHex("#4C72B0"), Color.FromHex("#DD8452"), Color.FromHex("#55A868"), Color.FromHex("#8172B3"),
    ];

    private static readonly Color ForgetShade = Color.FromHex("#C44E52").WithAlpha(0.12);

    /// <summary>
    /// Grouped bars of the accuracy (%) per class of each model, the forgotten classes shaded. A
    /// class without test samples has no bar.
    /// </summary>
    public static Chart PerClassAccuracy(IReadOnlyList<ModelFigures> models, IReadOnlyList<int> forgetClasses, Func<int, string> classLabel)
    {
        if (models.Count == 0) throw new ArgumentException("at least one model is needed", nameof(models));
        var classCount = models[0].Accuracy.ClassCount;
        var plot = NewPlot();
        foreach (var c in forgetClasses)
        {
            var span = plot.Add.HorizontalSpan(c - 0.5, c + 0.5);
            span.FillStyle.Color = ForgetShade;
            span.LineStyle.Width = 0;
            span.LegendText = c == forgetClasses[0] ? "forgotten class" : "";
        }
        var width = 0.8 / models.Count;
        for (var m = 0; m < models.Count; m++)
        {
            var bars = new List<Bar>();
            var perClass = models[m].Accuracy.PerClassAccuracy;
            for (var c = 0; c < classCount; c++)
            {
                if (perClass[c] is not { } accuracy) continue;
                bars.Add(new Bar
                {
                    Position = c - 0.4 + width * (m + 0.5),
                    Value = accuracy * 100,
                    Size = width,
                    FillColor = SeriesColors[m % SeriesColors.Length],
                    LineWidth = 0,
                });
            }
            var series = plot.Add.Bars(bars);
            series.LegendText = models[m].Name;
            series.Color = SeriesColors[m % SeriesColors.Length];
        }
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, classCount).Select(c => (double)c)], [.. Enumerable.Range(0, classCount).Select(classLabel)]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.SetLimits(-0.6, classCount - 0.4, 0, 100);
        plot.Title("Accuracy per class on the test data");
        plot.XLabel("class");
        plot.YLabel("accuracy (%)");
        plot.ShowLegend(Edge.Bottom);
        return Single(plot, Math.Max(640, 90 * classCount + 160), 460);
    }

    /// <summary>
    /// One panel per phase (in the order given): loss per step. Impair and repair steps of later
    /// rounds follow the first round's, with a dashed line where each round starts.
    /// </summary>
    public static Chart Losses(IReadOnlyDictionary<string, IReadOnlyList<float>> losses, int rounds = 1)
    {
        var phases = losses.Where(p => p.Value.Count > 0).ToList();
        if (phases.Count == 0) throw new ArgumentException("no phase has a loss", nameof(losses));
        var plots = new List<Plot>();
        for (var k = 0; k < phases.Count; k++)
        {
            var (phase, values) = (phases[k].Key, phases[k].Value);
            var plot = NewPlot();
            plots.Add(plot);
            double[] xs = [.. Enumerable.Range(1, values.Count).Select(i => (double)i)];
            double[] ys = [.. values.Select(v => (double)v)];
            var line = plot.Add.ScatterLine(xs, ys);
            line.Color = SeriesColors[k % SeriesColors.Length];
            line.LineWidth = 2;
            if (rounds > 1 && phase != "noise" && values.Count % rounds == 0)
            {
                for (var r = 1; r < rounds; r++)
                {
                    var boundary = plot.Add.VerticalLine(r * values.Count / rounds + 0.5);
                    boundary.LinePattern = LinePattern.Dashed;
                    boundary.Color = Colors.Gray;
                    boundary.LineWidth = 1;
                    boundary.LegendText = r == 1 ? "next round" : "";
                }
                plot.ShowLegend(Alignment.UpperRight);
            }
            plot.Title(phase switch
            {
                "noise" => "noise: −CE(f(noise), class) + λ·‖noise‖²",
                "impair" => "impair: CE on noise + retained samples",
                "repair" => "repair: CE on retained samples",
                _ => phase,
            }, size: 13);
            plot.XLabel("step");
            plot.YLabel(phase == "noise" ? "objective (nats + λ·L2)" : "cross-entropy (nats)");
        }
        var figure = new Multiplot(plots[0]) { Layout = new ScottPlot.MultiplotLayouts.Columns() };
        foreach (var plot in plots.Skip(1)) figure.AddPlot(plot);
        return new Chart(figure, 420 * phases.Count, 380);
    }

    /// <summary>
    /// A grid of learned noise images: one row per forgotten class, up to <paramref name="columns"/>
    /// samples each, every image rescaled to 0..255 on its own (min → black, max → white). Null when
    /// the input is not an image (flat features, or a channel count other than 1 or 3).
    /// </summary>
    public static Chart? NoiseGrid(LearnedNoise noise, IReadOnlyList<int> classes, Func<int, string> classLabel, int columns = 8)
    {
        var input = noise.Input;
        if (!IsImage(input)) return null;
        var sampleSize = input.SampleSize;
        if (noise.Values.Length != classes.Count * noise.PerClass * sampleSize)
            throw new ArgumentException($"{noise.Values.Length} noise values for {classes.Count} classes × {noise.PerClass} samples of {sampleSize}", nameof(noise));
        columns = Math.Min(columns, noise.PerClass);
        var plot = NewPlot();
        const double cell = 1.0, gap = 0.08;
        for (var row = 0; row < classes.Count; row++)
        {
            for (var col = 0; col < columns; col++)
            {
                var sample = noise.Values.AsSpan((row * noise.PerClass + col) * sampleSize, sampleSize);
                using var bitmap = ToBitmap(sample, input);
                var image = plot.Add.ImageRect(new ScottPlot.Image(bitmap),
                    new CoordinateRect(col * cell + gap / 2, (col + 1) * cell - gap / 2, -(row + 1) * cell + gap / 2, -row * cell - gap / 2));
                image.AntiAlias = false;
            }
        }
        plot.Axes.Left.SetTicks([.. Enumerable.Range(0, classes.Count).Select(r => -(r + 0.5) * cell)],
            [.. classes.Select(c => "class " + classLabel(c))]);
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Left.FrameLineStyle.Width = 0;
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, columns).Select(c => (c + 0.5) * cell)],
            [.. Enumerable.Range(1, columns).Select(c => "#" + c.ToString(CultureInfo.InvariantCulture))]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.FrameLineStyle.Width = 0;
        plot.Axes.Right.FrameLineStyle.Width = 0;
        plot.Axes.Top.FrameLineStyle.Width = 0;
        plot.HideGrid();
        plot.Axes.SetLimits(0, columns * cell, -classes.Count * cell, 0);
        plot.Title("Learned error-maximising noise (each image scaled to its own min..max)", size: 13);
        plot.XLabel($"noise sample ({columns} of {noise.PerClass} per class)");
        var labelWidth = 40 + 8 * classes.Max(c => ("class " + classLabel(c)).Length);
        const int pixelsPerCell = 84;
        return Single(plot, labelWidth + Math.Max(columns * pixelsPerCell, 560), 110 + classes.Count * pixelsPerCell);
    }

    /// <summary>Whether samples of this input can be shown as images.</summary>
    public static bool IsImage(InputSpec input) => input.Layout != InputLayout.Flat && input.Channels is 1 or 3 && input.Height > 1 && input.Width > 1;

    /// <summary>One sample (in the input's layout) as an 8-bit image, rescaled to 0..255 over its own range.</summary>
    public static SKBitmap ToBitmap(ReadOnlySpan<float> sample, InputSpec input)
    {
        var (channels, height, width) = (input.Channels, input.Height, input.Width);
        var min = float.PositiveInfinity;
        var max = float.NegativeInfinity;
        foreach (var v in sample)
        {
            if (!float.IsFinite(v)) continue;
            min = MathF.Min(min, v);
            max = MathF.Max(max, v);
        }
        var range = max > min ? max - min : 0;
        byte Level(float v) => range > 0 && float.IsFinite(v) ? (byte)Math.Clamp(MathF.Round((v - min) / range * 255), 0, 255) : (byte)128;
        var nchw = input.Layout == InputLayout.Nchw;
        int At(int c, int y, int x) => nchw ? (c * height + y) * width + x : (y * width + x) * channels + c;

        var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var color = channels == 1
                    ? new SKColor(Level(sample[At(0, y, x)]), Level(sample[At(0, y, x)]), Level(sample[At(0, y, x)]))
                    : new SKColor(Level(sample[At(0, y, x)]), Level(sample[At(1, y, x)]), Level(sample[At(2, y, x)]));
                bitmap.SetPixel(x, y, color);
            }
        }
        return bitmap;
    }

    /// <summary>A sans-serif family the system has (DejaVu Sans on most Linux machines), else ScottPlot's default.</summary>
    private static readonly Lazy<string> SansFamily = new(() =>
    {
        var installed = SKFontManager.Default.GetFontFamilies().ToHashSet(StringComparer.OrdinalIgnoreCase);
        return new[] { "DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Segoe UI" }.FirstOrDefault(installed.Contains) ?? Fonts.Default;
    });

    private static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Font.Set(SansFamily.Value);
        plot.Axes.Title.Label.FontSize = 15;
        return plot;
    }

    private static Chart Single(Plot plot, int width, int height) => new(new Multiplot(plot), width, height);
}
