using System.Globalization;
using System.Text;
using OnnxUnlearn.Serialization;

namespace OnnxUnlearn.Reporting;

/// <summary>A chart written to a report folder: its title and file names (PNG and SVG).</summary>
public sealed record ChartFiles(string Title, string Png, string Svg);

/// <summary>
/// Writes a report folder people read: <c>report.json</c> (given), <c>report.md</c> (tables of the
/// models' figures, per-class accuracy, settings, timings, and the charts) and each chart as PNG and
/// SVG (<see cref="Charts"/>).
/// </summary>
public static class ReportWriter
{
    public const string JsonFile = "report.json";
    public const string MarkdownFile = "report.md";
    public const string AccuracyChart = "per_class_accuracy";
    public const string LossChart = "losses";
    public const string NoiseChart = "noise";

    /// <summary>
    /// Creates <paramref name="directory"/> if needed and writes every file of the report into it
    /// (each atomically), returning the file names written. <paramref name="json"/> is the
    /// machine-readable report, written as it is.
    /// </summary>
    public static IReadOnlyList<string> WriteDirectory(string directory, UnlearningReport report, string json)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        void Write(string name, byte[] bytes)
        {
            AtomicFiles.Write(Path.Combine(directory, name), stream => stream.Write(bytes));
            written.Add(name);
        }

        Write(JsonFile, Encoding.UTF8.GetBytes(json.EndsWith('\n') ? json : json + "\n"));
        var charts = new List<ChartFiles>();
        void Save(Chart? chart, string name, string title)
        {
            if (chart is null) return;
            Write(name + ".png", chart.ToPng());
            Write(name + ".svg", chart.ToSvg());
            charts.Add(new ChartFiles(title, name + ".png", name + ".svg"));
        }

        var compared = new[] { report.Before, report.After, report.Baseline }.OfType<ModelFigures>().ToList();
        Save(Charts.PerClassAccuracy(compared, report.ForgetClasses, report.ClassLabel), AccuracyChart, "");
        if (report.Losses.Values.Any(v => v.Count > 0))
            Save(Charts.Losses(report.Losses, report.Rounds), LossChart, "Loss per step");
        if (report.Noise is { } noise)
            Save(Charts.NoiseGrid(noise, report.ForgetClasses, report.ClassLabel), NoiseChart, "Learned noise");
        Write(MarkdownFile, Encoding.UTF8.GetBytes(Markdown(report, charts)));
        return written;
    }

    /// <summary>The Markdown report, linking the given charts (paths relative to the report).</summary>
    public static string Markdown(UnlearningReport report, IReadOnlyList<ChartFiles> charts)
    {
        var md = new StringBuilder();
        var classes = string.Join(", ", report.ForgetClasses.Select(report.ClassLabel));
        md.AppendLine($"# Unlearning report: {report.Method.ToUpperInvariant()} forgets class{(report.ForgetClasses.Count > 1 ? "es" : "")} {classes}");
        md.AppendLine();
        md.AppendLine($"- model: `{report.Model}`");
        md.AppendLine($"- written: `{report.Output}`");
        md.AppendLine($"- measured on: `{report.EvaluatedOn}`");
        if (report.BaselineModel is { } baseline)
            md.AppendLine($"- baseline: `{baseline}`");
        md.AppendLine();

        md.AppendLine("## Results");
        md.AppendLine();
        var withMia = report.Models.Any(m => m.Mia is not null);
        md.AppendLine("| model | forget acc | retain acc | test acc |" + (withMia ? " MIA entropy | MIA confidence |" : ""));
        md.AppendLine("|---|---:|---:|---:|" + (withMia ? "---:|---:|" : ""));
        foreach (var m in report.Models)
        {
            var a = m.Accuracy;
            md.Append($"| {m.Name} | {Percent(a.ForgetAccuracy)} | {Percent(a.RetainAccuracy)} | {Percent(a.Accuracy)} |");
            if (withMia)
                md.Append(m.Mia is { } mia ? $" {Number(mia.Entropy)} | {Percent(mia.Confidence)} |" : " - | - |");
            md.AppendLine();
        }
        md.AppendLine();
        md.AppendLine("forget acc: accuracy on the test samples of the forgotten classes (target ≈ 0, or the baseline's); " +
            "retain acc: on the other classes' (target ≈ before); test acc: on all.");
        if (withMia)
        {
            var mia = report.Models.First(m => m.Mia is not null).Mia!;
            md.AppendLine($"MIA: attacks trained on {mia.MemberCount:N0} training samples (members) and {mia.NonMemberCount:N0} test samples (non-members) " +
                $"of the retained classes, applied to the {mia.TargetCount:N0} training samples of the forgotten classes. " +
                "MIA entropy (Bad Teaching, SSD): mean predicted membership probability from the entropy of the output; " +
                "MIA confidence (SalUn's MIA-efficacy): share of the forgotten samples classed as non-members from the probability of their true label. " +
                "The reference value for both is the baseline's (a model that never saw the classes).");
        }
        md.AppendLine();

        md.AppendLine("## Accuracy per class");
        md.AppendLine();
        var perClass = new[] { report.Before, report.After, report.Baseline }.OfType<ModelFigures>().ToList();
        md.AppendLine("| class | samples | " + string.Join(" | ", perClass.Select(m => m.Name)) + " | set |");
        md.AppendLine("|---|---:|" + string.Concat(perClass.Select(_ => "---:|")) + "---|");
        var forget = report.ForgetClasses.ToHashSet();
        for (var c = 0; c < report.Before.Accuracy.ClassCount; c++)
        {
            md.AppendLine($"| {report.ClassLabel(c)} | {report.Before.Accuracy.ClassCounts[c]:N0} | " +
                string.Join(" | ", perClass.Select(m => Percent(m.Accuracy.PerClassAccuracy[c]))) +
                $" | {(forget.Contains(c) ? "**forget**" : "retain")} |");
        }
        md.AppendLine();

        foreach (var chart in charts)
        {
            // The accuracy chart (no title) belongs to the per-class table above.
            if (chart.Title.Length > 0)
            {
                md.AppendLine($"## {chart.Title}");
                md.AppendLine();
            }
            md.AppendLine($"![{(chart.Title.Length > 0 ? chart.Title : "Accuracy per class")}]({chart.Png}) ([SVG]({chart.Svg}))");
            md.AppendLine();
        }
        if (report.Noise is { } noise && !charts.Any(c => c.Png.StartsWith(NoiseChart, StringComparison.Ordinal)))
        {
            md.AppendLine($"The learned noise is not drawn: the input {noise.Input} is not an image of 1 or 3 channels.");
            md.AppendLine();
        }

        if (report.TimingsSeconds.Count > 0)
        {
            md.AppendLine("## Timings");
            md.AppendLine();
            md.AppendLine("| phase | seconds |");
            md.AppendLine("|---|---:|");
            string[] order = ["noise", "impair", "repair"];
            var phases = order.Where(report.TimingsSeconds.ContainsKey)
                .Concat(report.TimingsSeconds.Keys.Where(k => !order.Contains(k) && k != "total").Order())
                .Concat(report.TimingsSeconds.ContainsKey("total") ? ["total"] : []);
            foreach (var phase in phases)
                md.AppendLine($"| {phase} | {report.TimingsSeconds[phase].ToString("F1", CultureInfo.InvariantCulture)} |");
            md.AppendLine();
            md.AppendLine($"{report.Rounds} impair + repair round{(report.Rounds > 1 ? "s" : "")}.");
            md.AppendLine();
        }

        if (report.Settings.Count > 0)
        {
            md.AppendLine("## Settings");
            md.AppendLine();
            md.AppendLine("| setting | value |");
            md.AppendLine("|---|---|");
            foreach (var (name, value) in report.Settings)
                md.AppendLine($"| {name} | {value.Replace("|", "\\|", StringComparison.Ordinal)} |");
            md.AppendLine();
        }
        return md.ToString();
    }

    /// <summary>"91.23 %"; "-" for null.</summary>
    public static string Percent(double? fraction) =>
        fraction is { } f && !double.IsNaN(f) ? (f * 100).ToString("F2", CultureInfo.InvariantCulture) + " %" : "-";

    private static string Number(double value) => double.IsNaN(value) ? "-" : value.ToString("F4", CultureInfo.InvariantCulture);
}
