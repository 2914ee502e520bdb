using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Tests.Coverage;

/// <summary>How a Keras CNN ends before its dense layers.</summary>
public enum KerasHead
{
    /// <summary>Keras Flatten: tf2onnx transposes back to NHWC and Reshapes by a constant [-1, features].</summary>
    Flatten,
    /// <summary>Keras GlobalAveragePooling2D as tf2onnx leaves it after its transpose optimiser:
    /// ReduceMean over the NCHW spatial axes, keepdims 0.</summary>
    ReduceMean,
    /// <summary>GlobalAveragePool + Flatten (keras2onnx, and tf2onnx's rewrite of a keepdims mean).</summary>
    GlobalAveragePool,
}

/// <summary>
/// Classifiers written the way tf2onnx (Keras) and skl2onnx (scikit-learn) write them, from their
/// converters' conventions: NHWC input with a leading Transpose, Conv with auto_pad, dense layers as
/// MatMul + Add, Reshape by a constant shape, BatchNormalization with Keras' epsilon 0.001, a
/// trailing Softmax behind Identity nodes, "StatefulPartitionedCall/..." initializer names and
/// "name:0" tensor names; skl2onnx's Cast of the input, "coefficient"/"intercepts" initializers and
/// its two outputs, an int64 <c>label</c> (ArgMax → ai.onnx.ml ArrayFeatureExtractor → Reshape →
/// Cast) before the float <c>probabilities</c>. Random weights, fixed seeds.
/// </summary>
public static class KerasModels
{
    private const string Scope = "StatefulPartitionedCall/sequential/";

    /// <summary>
    /// A Keras Sequential CNN on NHWC images [N, size, size, channels]: conv2d (3×3, SAME) →
    /// batch_normalization → ReLU → max_pooling2d → conv2d_1 (3×3, VALID, stride 2) →
    /// batch_normalization_1 → ReLU → head → dense (ReLU) → dense_1 (softmax) → Identity → "dense_1".
    /// </summary>
    public static Model Cnn(int opset, KerasHead head, int size = 12, int channels = 3, int classes = 4, int seed = 11)
    {
        var random = new Random(seed);
        var graph = new Graph("sequential");
        var x = graph.AddInput("input_1", Nhwc(size, channels));
        var h = Node(graph, "Transpose", Scope + "conv2d/Conv2D__6", [x], Attr.Ints("perm", [0, 3, 1, 2]));
        h = ConvBlock(graph, random, h, "conv2d", "batch_normalization", "re_lu", channels, 8, "SAME_UPPER", 1);
        h = Node(graph, "MaxPool", Scope + "max_pooling2d/MaxPool", [h],
            Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [2, 2]), Attr.String("auto_pad", "VALID"));
        h = ConvBlock(graph, random, h, "conv2d_1", "batch_normalization_1", "re_lu_1", 8, 8, "VALID", 2);
        var spatial = ((size / 2) - 3) / 2 + 1;
        int features;
        switch (head)
        {
            case KerasHead.Flatten:
                h = Node(graph, "Transpose", Scope + "flatten/Reshape__24", [h], Attr.Ints("perm", [0, 2, 3, 1]));
                features = 8 * spatial * spatial;
                var shape = graph.AddInitializer(TensorData.FromInt64s("const_fold_opt__31", [2], [-1, features]));
                h = Node(graph, "Reshape", Scope + "flatten/Reshape", [h, shape]);
                break;
            case KerasHead.ReduceMean:
                h = Node(graph, "ReduceMean", Scope + "global_average_pooling2d/Mean", [h], Attr.Ints("axes", [2, 3]), Attr.Int("keepdims", 0));
                features = 8;
                break;
            default:
                h = Node(graph, "GlobalAveragePool", Scope + "global_average_pooling2d/Mean", [h]);
                h = Node(graph, "Flatten", Scope + "global_average_pooling2d/Mean_Squeeze__28", [h], Attr.Int("axis", 1));
                features = 8;
                break;
        }
        h = Dense(graph, random, h, "dense", features, 16, relu: true);
        h = Dense(graph, random, h, "dense_1", 16, classes, relu: false);
        var probabilities = Node(graph, "Softmax", Scope + "dense_1/Softmax", [h], Attr.Int("axis", -1));
        var output = graph.AddNode("Identity", [probabilities], name: "Identity", outputNames: ["dense_1"]).Outputs[0];
        output.Type = TensorTypes.Of(DataType.Float, [-1, classes], "unk__59");
        graph.Outputs.Add(output);
        return new Model(Header("tf2onnx", "1.16.1 15c810", opset), graph);
    }

    /// <summary>
    /// A Keras Sequential MLP on [N, 28, 28, 1] images, exported from a SavedModel signature (output
    /// "Identity:0" behind an Identity chain): flatten (Reshape) → dense (ReLU) → dropout (an Identity
    /// at inference) → dense_1 (softmax).
    /// </summary>
    public static Model Mlp(int opset, int size = 28, int hidden = 32, int classes = 10, int seed = 12)
    {
        var random = new Random(seed);
        var graph = new Graph("tf2onnx");
        var x = graph.AddInput("input_1", Nhwc(size, 1));
        var shape = graph.AddInitializer(TensorData.FromInt64s("const_fold_opt__12", [2], [-1, size * size]));
        var h = Node(graph, "Reshape", Scope + "flatten/Reshape", [x, shape]);
        h = Dense(graph, random, h, "dense", size * size, hidden, relu: true);
        h = Node(graph, "Identity", Scope + "dropout/Identity", [h]);
        h = Dense(graph, random, h, "dense_1", hidden, classes, relu: false);
        h = Node(graph, "Softmax", Scope + "dense_1/Softmax", [h], Attr.Int("axis", 1));
        h = Node(graph, "Identity", "StatefulPartitionedCall/Identity", [h]);
        var output = graph.AddNode("Identity", [h], name: "Identity", outputNames: ["Identity:0"]).Outputs[0];
        output.Type = TensorTypes.Of(DataType.Float, [-1, classes], "unk__20");
        graph.Outputs.Add(output);
        return new Model(Header("tf2onnx", "1.16.1 15c810", opset), graph);
    }

    /// <summary>
    /// scikit-learn's MLPClassifier (ReLU, <paramref name="classes"/> integer classes) as skl2onnx
    /// writes it with zipmap=False: outputs "label" (int64 [N]) and "probabilities" (float [N, classes]).
    /// Hidden layers are MatMul + Add as skl2onnx writes them, or Gemm with <paramref name="gemm"/>.
    /// The batch dim is left unknown, as skl2onnx's [None, features] declares it.
    /// </summary>
    public static Model SklearnMlp(bool gemm, int features = 20, int hidden = 16, int classes = 3, int seed = 13)
    {
        var random = new Random(seed);
        var graph = new Graph("MLPClassifier");
        var x = graph.AddInput("float_input", Unknown(DataType.Float, features));
        var h = graph.AddNode("Cast", [x], name: "Cast", attributes: [Attr.Int("to", (long)DataType.Float)], outputNames: ["cast_input"]).Outputs[0];
        var sizes = new[] { features, hidden, hidden, classes };
        for (var layer = 0; layer < 3; layer++)
        {
            var suffix = layer == 0 ? "" : layer.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var (fanIn, fanOut) = (sizes[layer], sizes[layer + 1]);
            var w = graph.AddInitializer(Uniform("coefficient" + suffix, random, 1 / Math.Sqrt(fanIn), fanIn, fanOut));
            var b = graph.AddInitializer(Uniform("intercepts" + suffix, random, 0.1, gemm ? [fanOut] : [1, fanOut]));
            h = gemm
                ? graph.AddNode("Gemm", [h, w, b], name: "Gemm" + suffix, outputNames: ["gemm_result" + suffix]).Outputs[0]
                : graph.AddNode("Add", [graph.AddNode("MatMul", [h, w], name: "MatMul" + suffix, outputNames: ["mul_result" + suffix]).Outputs[0], b],
                    name: "Add" + suffix, outputNames: ["add_result" + suffix]).Outputs[0];
            if (layer < 2)
                h = graph.AddNode("Relu", [h], name: "Relu" + suffix, outputNames: ["next_activations" + suffix]).Outputs[0];
        }
        // skl2onnx names the output activation after the hidden one ("Relu2") and adds no axis (opset ≥ 13: the last).
        var softmax = graph.AddNode("Softmax", [h], name: "Relu2", outputNames: ["out_activations_result"]).Outputs[0];
        var probabilities = graph.AddNode("Identity", [softmax], name: "Identity", outputNames: ["probabilities"]).Outputs[0];
        var classIds = graph.AddInitializer(Int32s("classes", Enumerable.Range(0, classes).ToArray()));
        var argmax = graph.AddNode("ArgMax", [probabilities], name: "ArgMax", attributes: [Attr.Int("axis", 1)], outputNames: ["argmax_output"]).Outputs[0];
        var extracted = graph.AddNode("ArrayFeatureExtractor", [classIds, argmax], name: "ArrayFeatureExtractor", domain: "ai.onnx.ml",
            outputNames: ["array_feature_extractor_result"]).Outputs[0];
        var shape = graph.AddInitializer(TensorData.FromInt64s("shape_tensor", [1], [-1]));
        var reshaped = graph.AddNode("Reshape", [extracted, shape], name: "Reshape", outputNames: ["reshaped_result"]).Outputs[0];
        var label = graph.AddNode("Cast", [reshaped], name: "Cast1", attributes: [Attr.Int("to", (long)DataType.Int64)], outputNames: ["label"]).Outputs[0];
        label.Type = Unknown(DataType.Int64);
        probabilities.Type = Unknown(DataType.Float, classes);
        graph.Outputs.Add(label);
        graph.Outputs.Add(probabilities);
        var header = Header("skl2onnx", "1.16.0", 15);
        header.Domain = "ai.onnx";
        header.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = 1 });
        return new Model(header, graph);
    }

    /// <summary>Conv (auto_pad, stride) → BatchNormalization (ε 0.001) → Relu, tf2onnx names.</summary>
    private static Value ConvBlock(Graph graph, Random random, Value x, string conv, string bn, string relu, int inChannels, int filters, string autoPad, int stride)
    {
        var kernel = graph.AddInitializer(Uniform($"{Scope}{conv}/Conv2D/ReadVariableOp:0", random, 1 / Math.Sqrt(inChannels * 9), filters, inChannels, 3, 3));
        var bias = graph.AddInitializer(Uniform($"{Scope}{conv}/BiasAdd/ReadVariableOp:0", random, 0.1, filters));
        var h = Node(graph, "Conv", $"{Scope}{conv}/BiasAdd", [x, kernel, bias], Attr.String("auto_pad", autoPad), Attr.Ints("dilations", [1, 1]),
            Attr.Int("group", 1), Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("strides", [stride, stride]));
        var gamma = graph.AddInitializer(Uniform($"{Scope}{bn}/ReadVariableOp:0", random, 0.2, filters, offset: 1));
        var beta = graph.AddInitializer(Uniform($"{Scope}{bn}/ReadVariableOp_1:0", random, 0.1, filters));
        var mean = graph.AddInitializer(Uniform($"{Scope}{bn}/FusedBatchNormV3/ReadVariableOp:0", random, 0.1, filters));
        var variance = graph.AddInitializer(Uniform($"{Scope}{bn}/FusedBatchNormV3/ReadVariableOp_1:0", random, 0.2, filters, offset: 0.8f));
        h = Node(graph, "BatchNormalization", $"{Scope}{bn}/FusedBatchNormV3", [h, gamma, beta, mean, variance], Attr.Float("epsilon", 0.001f));
        return Node(graph, "Relu", $"{Scope}{relu}/Relu", [h]);
    }

    /// <summary>Keras Dense: MatMul by the [in, out] kernel, Add of the bias, optional Relu.</summary>
    private static Value Dense(Graph graph, Random random, Value x, string name, int fanIn, int fanOut, bool relu)
    {
        var kernel = graph.AddInitializer(Uniform($"{Scope}{name}/MatMul/ReadVariableOp:0", random, 1 / Math.Sqrt(fanIn), fanIn, fanOut));
        var bias = graph.AddInitializer(Uniform($"{Scope}{name}/BiasAdd/ReadVariableOp:0", random, 0.1, fanOut));
        var h = Node(graph, "MatMul", $"{Scope}{name}/MatMul", [x, kernel]);
        h = Node(graph, "Add", $"{Scope}{name}/BiasAdd", [h, bias]);
        return relu ? Node(graph, "Relu", $"{Scope}{name}/Relu", [h]) : h;
    }

    /// <summary>A node named as tf2onnx names it, its one output "&lt;name&gt;:0".</summary>
    private static Value Node(Graph graph, string op, string name, Value[] inputs, params AttributeProto[] attributes) =>
        graph.AddNode(op, inputs, 1, attributes, name, outputNames: [name + ":0"]).Outputs[0];

    private static TypeProto Nhwc(int size, int channels) => TensorTypes.Of(DataType.Float, [-1, size, size, channels], "unk__58");

    /// <summary>A tensor type whose first dim is unknown (neither a number nor a symbol).</summary>
    private static TypeProto Unknown(DataType type, params long[] sampleDims)
    {
        var t = TensorTypes.Of(type, [0, .. sampleDims]);
        t.TensorType.Shape.Dim[0].ClearDimValue();
        return t;
    }

    private static ModelProto Header(string producer, string version, int opset)
    {
        var header = new ModelProto { IrVersion = opset >= 15 ? 8 : 7, ProducerName = producer, ProducerVersion = version };
        header.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return header;
    }

    private static TensorData Uniform(string name, Random random, double bound, params long[] dims) => Uniform(name, random, bound, dims, 0);

    private static TensorData Uniform(string name, Random random, double bound, long dim, float offset) => Uniform(name, random, bound, [dim], offset);

    private static TensorData Uniform(string name, Random random, double bound, long[] dims, float offset)
    {
        var values = new float[dims.Aggregate(1L, (a, b) => a * b)];
        for (var i = 0; i < values.Length; i++) values[i] = offset + (float)((random.NextDouble() * 2 - 1) * bound);
        return TensorData.FromFloats(name, dims, values);
    }

    private static TensorData Int32s(string name, int[] values)
    {
        var proto = new TensorProto { Name = name, DataType = (int)DataType.Int32 };
        proto.Dims.Add(values.Length);
        proto.Int32Data.AddRange(values);
        return new TensorData(proto);
    }
}
