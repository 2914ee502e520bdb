using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Training;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Runtime;

/// <summary>
/// Creates ONNX Runtime sessions for models held in memory, on the chosen device, with external
/// data resolved against the source model's folder.
/// </summary>
public static class SessionFactory
{
    /// <summary>ORT resolves external-data locations of an in-memory model against this folder.</summary>
    private const string ExternalDataFolderKey = "session.model_external_initializers_file_folder_path";

    public static InferenceSession Create(ModelProto model, Device device, string? externalDataFolder = null,
        GraphOptimizationLevel optimization = GraphOptimizationLevel.ORT_ENABLE_ALL) =>
        Create(model.ToByteArray(), device, externalDataFolder, optimization);

    /// <summary>
    /// A session for <paramref name="model"/> whose initializers named in <paramref name="weights"/>
    /// take these values instead of the model's (names the model lacks are ignored; the model is not
    /// changed). On the CPU, a float32 initializer stored as external data is read by the session
    /// straight from its array (<see cref="SharedWeightsSession"/>: no copy, so a model of gigabytes
    /// is not held twice more per session); the arrays must then not change while the session lives.
    /// Other initializers get the values written into the serialized model, a copy ONNX Runtime can
    /// constant-fold and pre-pack, which keeps small inline models as fast as before. CUDA sessions
    /// always get the copy: their weights live in device memory anyway. Without
    /// <paramref name="cpuArena"/>, CPU buffers are allocated one by one and freed at once instead of
    /// from ONNX Runtime's arena, which keeps every buffer it ever held until the session ends
    /// (for a model of gigabytes, the training step's weight-sized temporaries several times over).
    /// </summary>
    public static InferenceSession Create(ModelProto model, Device device, string? externalDataFolder,
        IReadOnlyDictionary<string, float[]> weights, GraphOptimizationLevel optimization = GraphOptimizationLevel.ORT_ENABLE_ALL,
        bool cpuArena = true)
    {
        void Configure(SessionOptions options)
        {
            SessionFactory.Configure(options, externalDataFolder);
            options.EnableCpuMemArena = cpuArena;
        }
        var shared = new List<(string Name, float[] Values, long[] Dims)>();
        // Only the initializers are cloned: the header and the nodes are written as they are.
        var graph = model.Graph;
        var initializers = graph.Initializer.ToList();
        graph.Initializer.Clear();
        try
        {
            foreach (var tensor in initializers)
            {
                if (!weights.TryGetValue(tensor.Name, out var values))
                {
                    graph.Initializer.Add(tensor);
                    continue;
                }
                // ORT checks that the external file exists but never reads it: the session gets the array.
                if (!device.IsCuda && tensor.DataLocation == TensorProto.Types.DataLocation.External && (DataType)tensor.DataType == DataType.Float)
                {
                    graph.Initializer.Add(tensor);
                    shared.Add((tensor.Name, values, [.. tensor.Dims]));
                    continue;
                }
                var inline = tensor.Clone();
                inline.DataLocation = TensorProto.Types.DataLocation.Default;
                inline.ExternalData.Clear();
                ModelExporter.SetValues(inline, values);
                graph.Initializer.Add(inline);
            }
            var bytes = model.ToByteArray();
            if (shared.Count > 0)
                return SharedWeightsSession.Create(bytes, shared, Configure, device, optimization);
            using var options = device.CreateSessionOptions(optimization);
            Configure(options);
            return new InferenceSession(bytes, options);
        }
        finally
        {
            graph.Initializer.Clear();
            graph.Initializer.AddRange(initializers);
        }
    }

    /// <summary>A session for a serialized model.</summary>
    public static InferenceSession Create(byte[] model, Device device, string? externalDataFolder = null,
        GraphOptimizationLevel optimization = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        using var options = device.CreateSessionOptions(optimization);
        Configure(options, externalDataFolder);
        return new InferenceSession(model, options);
    }

    private static void Configure(SessionOptions options, string? externalDataFolder)
    {
        if (externalDataFolder is not null)
            options.AddSessionConfigEntry(ExternalDataFolderKey, externalDataFolder);
    }
}
