using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Runtime;

namespace OnnxUnlearn.Training;

/// <summary>
/// Runs a <see cref="TrainingGraph"/> step by step in one ONNX Runtime session. The state tensors
/// (parameters, optimizer state, running statistics) live in two sets of OrtValues allocated once:
/// each step reads one set and writes the other through an IOBinding, then the sets swap
/// (ping-pong), so no state is copied through managed arrays between steps. On CUDA both sets
/// live in device memory: only the batch goes to the device and only the loss comes back each
/// step; the state crosses over once at the start and when it is read.
/// On the CPU the first set wraps the <see cref="StateTensor.InitialValue"/> arrays themselves, so
/// training updates them in place and the weights are held twice, not three times.
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
    private readonly OrtAllocator? _deviceAllocator;
    private readonly StateTransfer? _transfer;
    private OrtValue[] _current;
    private OrtValue[] _next;
    // On the CPU, the managed arrays under _current and _next: copied from without a span over a
    // whole tensor, which cannot pass 2 GiB.
    private float[][]? _currentData;
    private float[][]? _nextData;

    /// <summary>
    /// From this much state on, the session allocates without ONNX Runtime's CPU arena: the arena
    /// would keep each state-sized temporary of the step (gradient, update) for the whole phase,
    /// rounded up, where plain allocations cost little next to a step over that many weights.
    /// Smaller models keep the arena, which is faster for their many small buffers.
    /// </summary>
    private const long NoArenaStateBytes = 64L << 20;

    /// <param name="initialState">Overrides of initial values by state name (e.g. the UNSIR noise);
    /// the others start from <see cref="StateTensor.InitialValue"/>.</param>
    public Trainer(TrainingGraph graph, Device device, IReadOnlyDictionary<string, float[]>? initialState = null)
    {
        _graph = graph;
        _inputIsState = graph.State.Any(s => s.Name == graph.InputName);
        var stateBytes = graph.State.Sum(s => s.InitialValue.LongLength * sizeof(float));
        _session = SessionFactory.Create(graph.Proto, device, graph.ExternalDataFolder, graph.Weights,
            cpuArena: stateBytes < NoArenaStateBytes);
        _binding = _session.CreateIoBinding();
        _learningRateValue = OrtValue.CreateTensorValueFromMemory(_learningRate, []);
        _stepValue = OrtValue.CreateTensorValueFromMemory(_step, []);
        _lossValue = OrtValue.CreateTensorValueFromMemory(_loss, []);
        var initialData = graph.State.Select(s => initialState is not null && initialState.TryGetValue(s.Name, out var v) ? v : s.InitialValue).ToArray();
        var initial = graph.State.Select((s, i) => OrtValue.CreateTensorValueFromMemory(initialData[i], s.Dims)).ToArray();
        if (device.IsCuda)
        {
            using var memory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, device.Index, OrtMemType.Default);
            _deviceAllocator = new OrtAllocator(_session, memory);
            _transfer = new StateTransfer(graph, device);
            _current = graph.State.Select(s => Allocate(_deviceAllocator, s.Dims)).ToArray();
            _next = graph.State.Select(s => Allocate(_deviceAllocator, s.Dims)).ToArray();
            _transfer.Copy(initial, _current);
            foreach (var value in initial) value.Dispose();
        }
        else
        {
            _current = initial;
            _currentData = initialData;
            _nextData = [.. graph.State.Select(s => GC.AllocateUninitializedArray<float>(s.InitialValue.Length))];
            _next = graph.State.Select((s, i) => OrtValue.CreateTensorValueFromMemory(_nextData[i], s.Dims)).ToArray();
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
        (_currentData, _nextData) = (_nextData, _currentData);
        var loss = _loss[0];
        if (!float.IsFinite(loss))
            throw new TrainingDivergedException(phase, StepCount, loss);
        return loss;
    }

    /// <summary>A copy of a state tensor's current value.</summary>
    public float[] Read(string stateName)
    {
        for (var i = 0; i < _graph.State.Count; i++)
        {
            if (_graph.State[i].Name != stateName) continue;
            if (_transfer is null) return (float[])_currentData![i].Clone();
            var host = _graph.State.Select(s => new float[s.InitialValue.LongLength]).ToArray();
            CopyToHost(host);
            return host[i];
        }
        throw new KeyNotFoundException($"no state tensor '{stateName}'");
    }

    /// <summary>
    /// Current values of every state tensor that maps to a model initializer, by initializer name:
    /// written into the state's <see cref="StateTensor.InitialValue"/> arrays, which are returned (no
    /// new copy of the weights; for <see cref="TrainingGraphOptions.Weights"/>, the caller's arrays).
    /// Training on afterwards keeps updating them.
    /// </summary>
    public Dictionary<string, float[]> ReadInitializers()
    {
        if (_transfer is not null)
        {
            CopyToHost([.. _graph.State.Select(s => s.InitialValue)]);
        }
        else
        {
            // After an even number of steps the current set is the arrays themselves.
            for (var i = 0; i < _graph.State.Count; i++)
                if (_graph.State[i].Initializer is not null && _currentData![i] != _graph.State[i].InitialValue)
                    Array.Copy(_currentData[i], _graph.State[i].InitialValue, _currentData[i].LongLength);
        }
        return _graph.State.Where(s => s.Initializer is not null).ToDictionary(s => s.Initializer!, s => s.InitialValue);
    }

    /// <summary>Copies the current device state into host arrays, one per state tensor.</summary>
    private void CopyToHost(float[][] destinations)
    {
        var host = _graph.State.Select((s, i) => OrtValue.CreateTensorValueFromMemory(destinations[i], s.Dims)).ToArray();
        try
        {
            _transfer!.Copy(_current, host);
        }
        finally
        {
            foreach (var value in host) value.Dispose();
        }
    }

    private static OrtValue Allocate(OrtAllocator allocator, long[] dims) =>
        OrtValue.CreateAllocatedTensorValue(allocator, TensorElementType.Float, dims);

    public void Dispose()
    {
        foreach (var v in _current.Concat(_next)) v.Dispose();
        _transfer?.Dispose();
        _deviceAllocator?.Dispose();
        _learningRateValue.Dispose();
        _stepValue.Dispose();
        _lossValue.Dispose();
        _runOptions.Dispose();
        _binding.Dispose();
        _session.Dispose();
    }

    /// <summary>
    /// Copies every state tensor between host and device memory in one run of a graph of Identity
    /// nodes, bound to the source and destination OrtValues: ONNX Runtime moves the data.
    /// </summary>
    private sealed class StateTransfer : IDisposable
    {
        private readonly TrainingGraph _graph;
        private readonly InferenceSession _session;
        private readonly OrtIoBinding _binding;
        private readonly RunOptions _runOptions = new();

        public StateTransfer(TrainingGraph graph, Device device)
        {
            _graph = graph;
            var copy = new Graph("state_copy");
            foreach (var s in graph.State)
            {
                var input = copy.AddInput(s.Name, TensorTypes.Float(s.Dims));
                var output = copy.AddNode("Identity", [input], 1, null, "copy/" + s.Name, outputNames: [s.OutputName]).Outputs[0];
                output.Type = TensorTypes.Float(s.Dims);
                copy.Outputs.Add(output);
            }
            var header = new ModelProto { IrVersion = 8, ProducerName = "onnx-unlearn", ProducerVersion = ModelExporter.ToolVersion };
            header.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
            _session = SessionFactory.Create(new Model(header, copy).ToProto(), device);
            _binding = _session.CreateIoBinding();
        }

        public void Copy(OrtValue[] from, OrtValue[] to)
        {
            _binding.ClearBoundInputs();
            _binding.ClearBoundOutputs();
            for (var i = 0; i < _graph.State.Count; i++)
            {
                _binding.BindInput(_graph.State[i].Name, from[i]);
                _binding.BindOutput(_graph.State[i].OutputName, to[i]);
            }
            _session.RunWithBinding(_runOptions, _binding);
            _binding.SynchronizeBoundOutputs();
        }

        public void Dispose()
        {
            _runOptions.Dispose();
            _binding.Dispose();
            _session.Dispose();
        }
    }
}
