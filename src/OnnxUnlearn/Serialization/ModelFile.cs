using Google.Protobuf;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Serialization;

/// <summary>Reads and writes .onnx files, with their external data.</summary>
public static class ModelFile
{
    /// <summary>Models whose serialized size would pass this are written with external data
    /// (protobuf cannot hold a message of 2 GiB or more).</summary>
    public const long ExternalDataThreshold = 2L * 1024 * 1024 * 1024 - 64 * 1024 * 1024;

    /// <summary>Initializers at least this large go to the external file when one is written.</summary>
    private const int ExternalTensorMinBytes = 1024;

    /// <summary>The model as the file holds it (what inspection and export work on).</summary>
    public static Model Load(string path) => Model.FromProto(LoadProto(path), path);

    /// <summary>
    /// The model to compute with: as <see cref="Load"/>, with a float16 model widened to the
    /// float32 model it stands for (<see cref="Float16WideningPass"/>), so data, training and
    /// evaluation all run in float32.
    /// </summary>
    public static Model LoadForCompute(string path)
    {
        var model = Load(path);
        Float16WideningPass.Apply(model);
        return model;
    }

    /// <summary>Parses and validates the ModelProto; each failure is a one-line message naming the file.</summary>
    public static ModelProto LoadProto(string path)
    {
        if (Directory.Exists(path))
            throw new UserInputException($"{path}: is a folder; expected an .onnx model file");
        if (!File.Exists(path))
            throw new UserInputException($"{path}: file not found");
        var length = new FileInfo(path).Length;
        if (length == 0)
            throw new UserInputException($"{path}: file is empty; expected an ONNX model");
        ModelProto proto;
        try
        {
            using var stream = File.OpenRead(path);
            proto = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new UserInputException($"{path}: not an ONNX model (protobuf parse error: {e.Message.TrimEnd('.')})", e);
        }
        if (proto.Graph is null)
            throw new UserInputException($"{path}: not an ONNX model, or a damaged one: it has no graph");
        if (proto.IrVersion <= 0)
            throw new UserInputException($"{path}: not an ONNX model, or a damaged one: ir_version is missing");
        if (proto.Graph.Output.Count == 0)
            throw new UserInputException($"{path}: the model's graph has no outputs");
        return proto;
    }

    /// <summary>
    /// Writes the model atomically. Tensors stored externally in the source keep their layout (same
    /// offsets) in a data file named after <paramref name="path"/>, read from <paramref name="sourceDirectory"/>
    /// (the source model's folder); a model too large for one protobuf
    /// gets its large initializers moved to external data. Returns the files written.
    /// </summary>
    public static IReadOnlyList<string> Save(ModelProto proto, string path, string? sourceDirectory = null) =>
        Save(proto, path, sourceDirectory, null);

    /// <summary>
    /// <see cref="Save(ModelProto, string, string?)"/>, with the values of the initializers named in
    /// <paramref name="values"/> written from those arrays (in each tensor's element type) into the
    /// external data file, piece by piece: for tensors external in the source, or too large for a
    /// protobuf field (left without raw_data in <paramref name="proto"/>).
    /// </summary>
    public static IReadOnlyList<string> Save(ModelProto proto, string path, string? sourceDirectory, IReadOnlyDictionary<string, float[]>? values) =>
        Save(proto, path, sourceDirectory, values, TensorBytes.PieceElements);

    /// <summary>As above; <paramref name="pieceElements"/> sets the piece size (tests write a tensor in several).</summary>
    internal static IReadOnlyList<string> Save(ModelProto proto, string path, string? sourceDirectory, IReadOnlyDictionary<string, float[]>? values, int pieceElements)
    {
        var external = ExternalLayout.Plan(proto, path, ExternalDataThreshold, ExternalTensorMinBytes, sourceDirectory, values);
        using var files = new AtomicFiles();
        foreach (var (file, tensors) in external.Files)
        {
            using var stream = files.Create(file);
            foreach (var (tensor, data, offset) in tensors)
            {
                stream.Seek(offset, SeekOrigin.Begin);
                data.WriteTo(stream, pieceElements);
            }
            stream.Flush(flushToDisk: true);
        }
        using (var stream = files.Create(path))
        {
            external.Rewritten.WriteTo(stream);
            stream.Flush(flushToDisk: true);
        }
        files.Commit();
        return [path, .. external.Files.Keys];
    }
}
