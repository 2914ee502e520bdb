using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxUnlearn.Runtime;

namespace OnnxUnlearn.Training;

/// <summary>
/// Runs a <see cref="TrainingGraph"/> step by step in one ONNX Runtime session. The state tensors
/// (parameters, optimizer state, running statistics) live in two sets of OrtValues allocated once:
/// each step reads one set and writes the other through an IOBinding, then the sets swap
/// (ping-pong), so no state is copied through managed arrays between steps.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly TrainingGraph _graph;
    private readonly InferenceSession _session;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new();
    private readonly float[] _learningRate = [0f];
    private readonly float[] _step = [0f];
    private readonly float[] _loss = [0f];
    private readonly OrtValue _learningRateValue;
    private readonly OrtValue _stepValue;
    private readonly OrtValue _lossValue;
    private readonly bool _inputIsState;
    private OrtValue[] _current;
    private OrtValue[] _next;

    /// <param name="initialState">Overrides of initial values by state name (e.g. the UNSIR noise);
    /// the others start from <see cref="StateTensor.InitialValue"/>.</param>
    public Trainer(TrainingGraph graph, Device device, IReadOnlyDictionary<string, float[]>? initialState = null)
    {
        _graph = graph;
        _inputIsState = graph.State.Any(s => s.Name == graph.InputName);
        _session = SessionFactory.Create(graph.Proto, device, graph.ExternalDataFolder);
        _binding = _session.CreateIoBinding();
        _learningRateValue = OrtValue.CreateTensorValueFromMemory(_learningRate, []);
        _stepValue = OrtValue.CreateTensorValueFromMemory(_step, []);
        _lossValue = OrtValue.CreateTensorValueFromMemory(_loss, []);
        _current = graph.State.Select(s => Allocate(s.Dims)).ToArray();
        _next = graph.State.Select(s => Allocate(s.Dims)).ToArray();
        for (var i = 0; i < graph.State.Count; i++)
        {
            var s = graph.State[i];
            var initial = initialState is not null && initialState.TryGetValue(s.Name, out var v) ? v : s.InitialValue;
            initial.AsSpan().CopyTo(_current[i].GetTensorMutableDataAsSpan<float>());
        }
    }

    /// <summary>Steps taken so far.</summary>
    public int StepCount { get; private set; }

    /// <summary>
    /// One optimizer step on a batch: <paramref name="samples"/> holds <paramref name="count"/>
    /// preprocessed samples, <paramref name="labels"/> their classes (when the input itself is the
    /// trained state, as for the UNSIR noise, <paramref name="samples"/> is not read). Returns the loss before the
    /// update. Throws <see cref="TrainingDivergedException"/> when the loss is not finite.
    /// </summary>
    public float Step(Memory<float> samples, Memory<long> labels, int count, long[] sampleDims, float learningRate, string phase)
    {
        _learningRate[0] = learningRate;
        _step[0] = StepCount + 1;
        using var x = _inputIsState ? null
            : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, samples[..(count * (int)sampleDims.Aggregate(1L, (a, b) => a * b))], [count, .. sampleDims]);
        using var y = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, labels[..count], [count]);
        _binding.ClearBoundInputs();
        _binding.ClearBoundOutputs();
        if (x is not null)
            _binding.BindInput(_graph.InputName, x);
        _binding.BindInput(_graph.LabelsName, y);
        _binding.BindInput(TrainingGraph.LearningRateName, _learningRateValue);
        _binding.BindInput(TrainingGraph.StepName, _stepValue);
        _binding.BindOutput(TrainingGraph.LossName, _lossValue);
        for (var i = 0; i < _graph.State.Count; i++)
        {
            _binding.BindInput(_graph.State[i].Name, _current[i]);
            _binding.BindOutput(_graph.State[i].OutputName, _next[i]);
        }
        _session.RunWithBinding(_runOptions, _binding);
        StepCount++;
        (_current, _next) = (_next, _current);
        var loss = _loss[0];
        if (!float.IsFinite(loss))
            throw new TrainingDivergedException(phase, StepCount, loss);
        return loss;
    }

    /// <summary>A copy of a state tensor's current value.</summary>
    public float[] Read(string stateName)
    {
        var index = IndexOf(stateName);
        return _current[index].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Current values of every state tensor that maps to a model initializer.</summary>
    public Dictionary<string, float[]> ReadInitializers() =>
        _graph.State.Where(s => s.Initializer is not null).ToDictionary(s => s.Initializer!, s => Read(s.Name));

    private int IndexOf(string stateName)
    {
        for (var i = 0; i < _graph.State.Count; i++)
            if (_graph.State[i].Name == stateName) return i;
        throw new KeyNotFoundException($"no state tensor '{stateName}'");
    }

    private static OrtValue Allocate(long[] dims) =>
        OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, dims);

    public void Dispose()
    {
        foreach (var v in _current.Concat(_next)) v.Dispose();
        _learningRateValue.Dispose();
        _stepValue.Dispose();
        _lossValue.Dispose();
        _runOptions.Dispose();
        _binding.Dispose();
        _session.Dispose();
    }
}
