using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Onnx;

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

    /// <summary>A session for a serialized model.</summary>
    public static InferenceSession Create(byte[] model, Device device, string? externalDataFolder = null,
        GraphOptimizationLevel optimization = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        using var options = device.CreateSessionOptions(optimization);
        if (externalDataFolder is not null)
            options.AddSessionConfigEntry(ExternalDataFolderKey, externalDataFolder);
        return new InferenceSession(model, options);
    }
}
