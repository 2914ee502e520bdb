using System.Security.Cryptography;
using Google.Protobuf;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Serialization;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Training;

/// <summary>
/// Writes trained weights back into the ORIGINAL model: same nodes, names, inputs, outputs, opsets
/// and external-data layout; only the updated initializers' values change (in their original
/// element type), plus metadata_props recording the tool, the job and the source's SHA-256.
/// </summary>
public static class ModelExporter
{
    public const string MetadataPrefix = "onnx_unlearn.";

    /// <summary>
    /// A copy of <paramref name="original"/> with the given initializers replaced, all in memory (raw_data):
    /// for models that are run or compared. To write a file, use <see cref="ForExport"/>.
    /// </summary>
    public static ModelProto WithInitializers(ModelProto original, IReadOnlyDictionary<string, float[]> values)
    {
        var proto = original.Clone();
        foreach (var tensor in proto.Graph.Initializer)
            if (values.TryGetValue(tensor.Name, out var data))
                // External tensors keep their slot: ModelFile.Save writes raw_data there (ExternalLayout).
                SetValues(tensor, data);
        return proto;
    }

    /// <summary>
    /// <paramref name="original"/> with the given initializers replaced, ready for <see cref="Write"/>:
    /// inline tensors get raw_data as in <see cref="WithInitializers"/>; tensors external in the source,
    /// and any too large for a protobuf field, keep only a reference to their array, whose values are
    /// written straight into the output's data file (same offsets) and never become a ByteString.
    /// </summary>
    public static ExportModel ForExport(ModelProto original, IReadOnlyDictionary<string, float[]> values)
    {
        var proto = original.Clone();
        var streamed = new Dictionary<string, float[]>();
        foreach (var tensor in proto.Graph.Initializer)
        {
            if (!values.TryGetValue(tensor.Name, out var data))
                continue;
            var type = EncodableType(tensor);
            if (tensor.DataLocation == TensorProto.Types.DataLocation.External
                || TensorBytes.ByteCount(type, data.LongLength) >= ModelFile.ExternalDataThreshold)
            {
                tensor.RawData = ByteString.Empty;
                streamed[tensor.Name] = data;
            }
            else
                SetValues(tensor, data);
        }
        return new ExportModel(proto, streamed);
    }

    /// <summary>Puts <paramref name="data"/> into the tensor's raw_data, in its own element type.</summary>
    public static void SetValues(TensorProto tensor, float[] data)
    {
        var type = EncodableType(tensor);
        var length = TensorBytes.ByteCount(type, data.LongLength);
        if (length > int.MaxValue)
            throw new InvalidOperationException($"initializer '{tensor.Name}' needs {length} bytes, more than a protobuf field holds; write the model with ModelExporter.ForExport");
        var bytes = new byte[length];
        TensorBytes.Encode(data, type, bytes);
        tensor.FloatData.Clear();
        tensor.DoubleData.Clear();
        tensor.Int32Data.Clear();
        // The array is not shared: wrapping it saves a copy.
        tensor.RawData = UnsafeByteOperations.UnsafeWrap(bytes);
    }

    /// <summary>The tensor's element type, which trained float values must be written in.</summary>
    private static DataType EncodableType(TensorProto tensor)
    {
        var type = (DataType)tensor.DataType;
        if (!TensorBytes.CanEncode(type))
            throw new InvalidOperationException($"initializer '{tensor.Name}' has element type {type}; cannot write trained values");
        return type;
    }

    /// <summary>Adds or replaces metadata entries (keys get the <see cref="MetadataPrefix"/>).</summary>
    public static void SetMetadata(ModelProto proto, IReadOnlyDictionary<string, string> entries)
    {
        foreach (var (key, value) in entries)
        {
            var full = MetadataPrefix + key;
            var entry = proto.MetadataProps.FirstOrDefault(p => p.Key == full);
            if (entry is null) proto.MetadataProps.Add(new StringStringEntryProto { Key = full, Value = value });
            else entry.Value = value;
        }
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// Writes a model from <see cref="ForExport"/> atomically to <paramref name="outputPath"/> (never
    /// over the source), with external data beside it where the source had it; its streamed values
    /// go straight to the data file. Returns the SHA-256 of the written model file.
    /// </summary>
    public static string Write(ExportModel model, string sourcePath, string outputPath)
    {
        if (Path.GetFullPath(sourcePath) == Path.GetFullPath(outputPath))
            throw new UserInputException($"--out '{outputPath}' is the input model; choose another path (the input is never modified)");
        ModelFile.Save(model.Proto, outputPath, Path.GetDirectoryName(Path.GetFullPath(sourcePath)), model.Streamed);
        return Sha256(outputPath);
    }

    public static string ToolVersion =>
        typeof(ModelExporter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}

/// <summary>
/// A model ready to write: the proto (metadata may still be added to it), and the trained values that
/// <see cref="ModelFile.Save(ModelProto, string, string?, IReadOnlyDictionary{string, float[]}?)"/> writes
/// from their arrays into the external data file. The arrays are read, not copied: keep them unchanged until written.
/// </summary>
public sealed record ExportModel(ModelProto Proto, IReadOnlyDictionary<string, float[]> Streamed);
