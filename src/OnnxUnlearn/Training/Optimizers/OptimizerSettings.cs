using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Training.Optimizers;

public enum OptimizerKind { Sgd, Adam, AdamW }

/// <summary>
/// An optimizer with PyTorch's semantics (torch.optim.SGD, Adam, AdamW), emitted as plain ONNX math
/// on one tensor: a parameter, or a flat bucket of several (TrainingGraphBuilder). The learning rate and the step count t (1-based) are graph inputs, so schedules
/// need no rebuild. Optional gradient clipping by value and by global norm (as clip_grad_norm_).
/// </summary>
public sealed record OptimizerSettings
{
    public OptimizerKind Kind { get; init; } = OptimizerKind.Adam;
    public float Momentum { get; init; }
    public bool Nesterov { get; init; }
    public float WeightDecay { get; init; }
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float Epsilon { get; init; } = 1e-8f;
    public float ClipValue { get; init; }
    public float ClipNorm { get; init; }

    public static OptimizerKind ParseKind(string text) => text.ToLowerInvariant() switch
    {
        "sgd" => OptimizerKind.Sgd,
        "adam" => OptimizerKind.Adam,
        "adamw" => OptimizerKind.AdamW,
        _ => throw new UserInputException($"--optimizer '{text}': expected sgd, adam or adamw"),
    };

    /// <summary>Names of the per-parameter state tensors this optimizer keeps.</summary>
    public IReadOnlyList<string> StateSlots => Kind switch
    {
        OptimizerKind.Sgd => Momentum != 0 ? ["momentum"] : [],
        _ => ["exp_avg", "exp_avg_sq"],
    };

    /// <summary>
    /// Emits one update. <paramref name="state"/> holds the current slot values in
    /// <see cref="StateSlots"/> order; returns the new parameter and the new slot values.
    /// </summary>
    internal (Value Parameter, Value[] State) EmitUpdate(GraphBuilder b, Value p, Value g, Value[] state, StepInputs step)
    {
        var lr = step.LearningRate;
        switch (Kind)
        {
            case OptimizerKind.Sgd:
            {
                // g' = g + wd·p;  buf' = μ·buf + g';  d = nesterov ? g' + μ·buf' : buf';  p' = p − lr·d
                if (WeightDecay != 0) g = b.Add(g, b.Mul(p, b.Scalar(WeightDecay)));
                if (Momentum == 0) return (b.Sub(p, b.Mul(g, lr)), []);
                var buffer = b.Add(b.Mul(state[0], b.Scalar(Momentum)), g);
                var direction = Nesterov ? b.Add(g, b.Mul(buffer, b.Scalar(Momentum))) : buffer;
                return (b.Sub(p, b.Mul(direction, lr)), [buffer]);
            }
            default:
            {
                // AdamW: p ← p·(1 − lr·wd) first; Adam: g' = g + wd·p.
                // m' = β1·m + (1−β1)·g';  v' = β2·v + (1−β2)·g'²
                // p' = p − lr/(1−β1ᵗ) · m' / (√v' / √(1−β2ᵗ) + ε)
                if (Kind == OptimizerKind.AdamW && WeightDecay != 0)
                    p = b.Mul(p, b.Sub(b.Scalar(1), b.Mul(lr, b.Scalar(WeightDecay))));
                else if (WeightDecay != 0)
                    g = b.Add(g, b.Mul(p, b.Scalar(WeightDecay)));
                var m = b.Add(b.Mul(state[0], b.Scalar(Beta1)), b.Mul(g, b.Scalar(1 - Beta1)));
                var v = b.Add(b.Mul(state[1], b.Scalar(Beta2)), b.Mul(b.Mul(g, g), b.Scalar(1 - Beta2)));
                var denominator = b.Add(b.Div(b.Op("Sqrt", v), step.SqrtCorrection2!), b.Scalar(Epsilon));
                return (b.Sub(p, b.Mul(step.StepSize!, b.Div(m, denominator))), [m, v]);
            }
        }
    }

    /// <summary>The step's inputs, and for Adam lr/(1 − β1ᵗ) and √(1 − β2ᵗ), emitted once per graph
    /// and shared by every parameter.</summary>
    internal StepInputs EmitStepInputs(GraphBuilder b, Value lr, Value step)
    {
        if (Kind == OptimizerKind.Sgd) return new StepInputs(lr, null, null);
        var correction1 = b.Sub(b.Scalar(1), b.Op("Pow", b.Scalar(Beta1), step));
        var correction2 = b.Sub(b.Scalar(1), b.Op("Pow", b.Scalar(Beta2), step));
        return new StepInputs(lr, b.Div(lr, correction1), b.Op("Sqrt", correction2));
    }

    /// <summary>Clips gradients by value and/or by their global L2 norm.</summary>
    internal Value[] Clip(GraphBuilder b, Value[] gradients)
    {
        if (ClipValue > 0)
            gradients = gradients.Select(g => b.Clip(g, -ClipValue, ClipValue)).ToArray();
        if (ClipNorm > 0 && gradients.Length > 0)
        {
            // factor = min(1, max_norm / (‖g‖ + 1e-6)), ‖g‖ = √Σ g²
            var squares = gradients.Select(g => b.Op("ReduceSumSquare", [g], Attr.Int("keepdims", 0))).ToArray();
            var norm = b.Op("Sqrt", squares.Length == 1 ? squares[0] : b.Op("Sum", squares));
            var factor = b.Op("Min", b.Scalar(1), b.Div(b.Scalar(ClipNorm), b.Add(norm, b.Scalar(1e-6f))));
            gradients = gradients.Select(g => b.Mul(g, factor)).ToArray();
        }
        return gradients;
    }
}

internal sealed record StepInputs(Value LearningRate, Value? StepSize, Value? SqrtCorrection2);
