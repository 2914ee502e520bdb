using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Ir;

/// <summary>
/// An ONNX model: the main graph as IR plus everything else of the ModelProto (opset imports,
/// producer, metadata, functions, training info, unknown fields), kept in <see cref="Header"/>.
/// </summary>
public sealed class Model
{
    public Model(ModelProto header, Graph graph, string? path = null)
    {
        Header = header;
        Graph = graph;
        Path = path;
    }

    /// <summary>The ModelProto without its graph.</summary>
    public ModelProto Header { get; }

    public Graph Graph { get; }

    /// <summary>The file the model was read from, if any (external data lives beside it).</summary>
    public string? Path { get; }

    /// <summary>Version of the standard operator set (domain "" or "ai.onnx") the model imports.</summary>
    public int OpsetVersion =>
        (int)(Header.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(1).Max());

    public string? GetMetadata(string key) => Header.MetadataProps.FirstOrDefault(p => p.Key == key)?.Value;

    public void SetMetadata(string key, string value)
    {
        var entry = Header.MetadataProps.FirstOrDefault(p => p.Key == key);
        if (entry is null) Header.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        else entry.Value = value;
    }

    public static Model FromProto(ModelProto proto, string? path = null)
    {
        // Cloned without its graph: a clone with it would copy every initializer's bytes once more.
        var graphProto = proto.Graph;
        proto.Graph = null;
        var header = proto.Clone();
        proto.Graph = graphProto;
        var baseDirectory = path is null ? null : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        return new Model(header, Graph.FromProto(proto.Graph, baseDirectory), path);
    }

    public ModelProto ToProto()
    {
        var proto = Header.Clone();
        proto.Graph = Graph.ToProto();
        return proto;
    }
}
