using System.Globalization;
using Google.Protobuf;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Serialization;

/// <summary>
/// Decides where each tensor's bytes go when a model is written: inline, or at an offset in an
/// external data file beside the model. Tensors that were external in the source keep their offsets,
/// in a file renamed after the output (the source's data file is never written). A tensor marked
/// external whose raw_data is non-empty carries new content for its slot (how export hands over
/// trained weights without changing the layout); so does a tensor named in the values handed to
/// <see cref="Plan"/>, whose bytes are then encoded from the array while the file is written.
/// </summary>
internal sealed class ExternalLayout
{
    public required ModelProto Rewritten { get; init; }

    /// <summary>Data file path → tensors with their bytes and offsets.</summary>
    public required Dictionary<string, List<(TensorProto Tensor, TensorBytes Data, long Offset)>> Files { get; init; }

    /// <param name="values">Float values for tensors that are written from arrays, in their own element
    /// type: external ones keep their slot; inline ones (left without raw_data: too large for a protobuf
    /// field) go to a new data file with the other large initializers.</param>
    public static ExternalLayout Plan(ModelProto source, string outputPath, long threshold, int minTensorBytes, string? sourceDirectory = null,
        IReadOnlyDictionary<string, float[]>? values = null)
    {
        var proto = source.Clone();
        var folder = Path.GetDirectoryName(Path.GetFullPath(outputPath))!;
        var stem = Path.GetFileName(outputPath);
        var files = new Dictionary<string, List<(TensorProto, TensorBytes, long)>>();
        values ??= new Dictionary<string, float[]>();
        var initializers = proto.Graph.Initializer;

        var locations = initializers.Where(IsExternal).Select(t => ExternalDataInfo.Of(t).Location).Distinct().ToList();
        // The source's data files are never written: a name that would land on one gets a number.
        var sourceFiles = locations.Select(l => Path.GetFullPath(Path.Combine(sourceDirectory ?? folder, l))).ToHashSet(StringComparer.Ordinal);
        var taken = new HashSet<string>(StringComparer.Ordinal);
        var renamed = locations.ToDictionary(l => l, l =>
        {
            var name = locations.Count == 1 ? stem + ".data" : $"{stem}.{Path.GetFileName(l)}";
            for (var n = 1; sourceFiles.Contains(Path.GetFullPath(Path.Combine(folder, name))) || !taken.Add(name); n++)
                name = locations.Count == 1 ? $"{stem}.{n}.data" : $"{stem}.{n}.{Path.GetFileName(l)}";
            return name;
        });
        foreach (var tensor in initializers.Where(IsExternal))
        {
            var (location, offset, _) = ExternalDataInfo.Of(tensor);
            var data = values.TryGetValue(tensor.Name, out var array) ? FromValues(tensor, array, ExpectedBytes(tensor))
                : tensor.RawData.Length > 0 ? TensorBytes.Of(tensor.RawData.Memory)
                : TensorBytes.Of(new TensorData(tensor, sourceDirectory ?? folder).RawBytes(checked((int)ExpectedBytes(tensor))).ToArray());
            tensor.RawData = ByteString.Empty;
            SetExternal(tensor, renamed[location], offset, data.Length);
            Add(files, Path.Combine(folder, renamed[location]), tensor, data, offset);
        }

        var inline = initializers.Where(t => !IsExternal(t) && values.ContainsKey(t.Name)).ToList();
        if (inline.Count > 0 && locations.Count > 0)
            throw new InvalidOperationException($"initializer '{inline[0].Name}' is too large to write inline and the model already has external data; not supported");
        // Values for an inline tensor mean it is too large for a protobuf field: the model gets a data file.
        if (locations.Count == 0 && (inline.Count > 0 || proto.CalculateSize() > threshold))
        {
            var name = stem + ".data";
            long offset = 0;
            foreach (var tensor in initializers.Where(t => t.RawData.Length >= minTensorBytes || inline.Contains(t)))
            {
                var data = inline.Contains(tensor) ? FromValues(tensor, values[tensor.Name], ExpectedBytes(tensor)) : TensorBytes.Of(tensor.RawData.Memory);
                tensor.RawData = ByteString.Empty;
                SetExternal(tensor, name, offset, data.Length);
                Add(files, Path.Combine(folder, name), tensor, data, offset);
                offset += (data.Length + 4095) / 4096 * 4096;
            }
        }
        return new ExternalLayout { Rewritten = proto, Files = files };
    }

    private static TensorBytes FromValues(TensorProto tensor, float[] values, long expectedBytes)
    {
        var type = (TensorProto.Types.DataType)tensor.DataType;
        if (!TensorBytes.CanEncode(type))
            throw new InvalidOperationException($"initializer '{tensor.Name}' has element type {type}; cannot write trained values");
        var data = TensorBytes.Of(values, type);
        if (data.Length != expectedBytes)
            throw new InvalidOperationException($"initializer '{tensor.Name}': {values.LongLength} values make {data.Length} bytes of {type}; its shape needs {expectedBytes}");
        return data;
    }

    private static bool IsExternal(TensorProto t) => t.DataLocation == TensorProto.Types.DataLocation.External;

    private static long ExpectedBytes(TensorProto t)
    {
        var length = IsExternal(t) ? ExternalDataInfo.Of(t).Length : null;
        return length ?? t.Dims.Aggregate(1L, (a, b) => a * b) * ElementSize((TensorProto.Types.DataType)t.DataType);
    }

    internal static int ElementSize(TensorProto.Types.DataType type) => type switch
    {
        TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Uint64 => 8,
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Uint32 => 4,
        TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16 or TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Uint16 => 2,
        _ => 1,
    };

    private static void SetExternal(TensorProto tensor, string location, long offset, long length)
    {
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Clear();
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(CultureInfo.InvariantCulture) });
    }

    private static void Add(Dictionary<string, List<(TensorProto, TensorBytes, long)>> files, string path, TensorProto tensor, TensorBytes data, long offset)
    {
        if (!files.TryGetValue(path, out var list))
            files[path] = list = [];
        list.Add((tensor, data, offset));
    }
}
