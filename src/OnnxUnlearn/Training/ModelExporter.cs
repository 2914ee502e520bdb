using System.Runtime.InteropServices;
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

    /// <summary>A copy of <paramref name="original"/> with the given initializers replaced.</summary>
    public static ModelProto WithInitializers(ModelProto original, IReadOnlyDictionary<string, float[]> values)
    {
        var proto = original.Clone();
        foreach (var tensor in proto.Graph.Initializer)
            if (values.TryGetValue(tensor.Name, out var data))
                // External tensors keep their slot: ModelFile.Save writes raw_data there (ExternalLayout).
                SetValues(tensor, data);
        return proto;
    }

    /// <summary>Puts <paramref name="data"/> into the tensor's raw_data, in its own element type.</summary>
    public static void SetValues(TensorProto tensor, float[] data)
    {
        var bytes = (DataType)tensor.DataType switch
        {
            DataType.Float => ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan())),
            DataType.Float16 => ByteString.CopyFrom(MemoryMarshal.AsBytes(Array.ConvertAll(data, v => (Half)v).AsSpan())),
            DataType.Double => ByteString.CopyFrom(MemoryMarshal.AsBytes(Array.ConvertAll(data, v => (double)v).AsSpan())),
            DataType.Bfloat16 => ByteString.CopyFrom(MemoryMarshal.AsBytes(Array.ConvertAll(data, v => (ushort)(BitConverter.SingleToInt32Bits(v) >> 16)).AsSpan())),
            var other => throw new InvalidOperationException($"initializer '{tensor.Name}' has element type {other}; cannot write trained values"),
        };
        tensor.FloatData.Clear();
        tensor.DoubleData.Clear();
        tensor.Int32Data.Clear();
        tensor.RawData = bytes;
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
    /// Writes the model atomically to <paramref name="outputPath"/> (never over the source), with
    /// external data beside it where the source had it. Returns the SHA-256 of the written model file.
    /// </summary>
    public static string Write(ModelProto proto, string sourcePath, string outputPath)
    {
        if (Path.GetFullPath(sourcePath) == Path.GetFullPath(outputPath))
            throw new UserInputException($"--out '{outputPath}' is the input model; choose another path (the input is never modified)");
        ModelFile.Save(proto, outputPath, Path.GetDirectoryName(Path.GetFullPath(sourcePath)));
        return Sha256(outputPath);
    }

    public static string ToolVersion =>
        typeof(ModelExporter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
