using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxUnlearn.Evaluation;

namespace OnnxUnlearn.Cli.Output;

/// <summary>
/// JSON on stdout. Documents are built as <see cref="JsonObject"/>s, so keys and their order are
/// exactly what each verb promises (and nothing depends on reflection, which trimming would break).
/// </summary>
public static class JsonOutput
{
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Indented = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true };

    /// <summary>Writes the document on one line (or indented) followed by a newline.</summary>
    public static void Write(TextWriter writer, JsonNode document, bool indented = false)
    {
        writer.WriteLine(document.ToJsonString(indented ? Indented : Compact));
        writer.Flush();
    }

    /// <summary>A JSON array of numbers and nulls.</summary>
    public static JsonArray Array(IEnumerable<double?> values) => new([.. values.Select(v => v is { } d ? JsonValue.Create(d) : null)]);

    public static JsonArray Array(IEnumerable<int> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    public static JsonArray Array(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    /// <summary>
    /// <c>{"count":N,"accuracy":a,"per_class_acc":[...],"forget_acc":f,"retain_acc":r}</c>: the
    /// last two only when forget classes were given (null when there is no sample to measure).
    /// </summary>
    public static JsonObject Accuracy(AccuracyReport report)
    {
        var json = new JsonObject
        {
            ["count"] = report.Count,
            ["accuracy"] = report.Accuracy,
            ["per_class_acc"] = Array(report.PerClassAccuracy),
        };
        if (report.ForgetClasses is not null)
        {
            json["forget_acc"] = report.ForgetAccuracy;
            json["retain_acc"] = report.RetainAccuracy;
        }
        return json;
    }
}
