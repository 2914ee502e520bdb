namespace OnnxUnlearn.Evaluation;

/// <summary>
/// Logistic regression on one feature, as the membership inference attacks use it:
/// P(member | x) = σ(w·z + b) with z = (x − Mean) / Scale, the feature standardised over the
/// training samples. Fitted like scikit-learn's LogisticRegression(class_weight="balanced", C=1):
/// minimise C·Σ sᵢ·CE(yᵢ, pᵢ) + ½w² (the bias is not penalised), sᵢ = n / (2·n_class) so that both
/// classes weigh the same, by Newton's method from w = b = 0 with a backtracking line search.
/// Deterministic: no randomness, the same inputs give the same fit.
/// </summary>
public sealed record LogisticRegression(double Mean, double Scale, double Weight, double Bias)
{
    /// <summary>Inverse regularisation strength; scikit-learn's default.</summary>
    public const double DefaultC = 1.0;

    private const int MaxIterations = 100;

    /// <summary>Newton stops once both partial derivatives of the objective are this small.</summary>
    private const double GradientTolerance = 1e-10;

    /// <summary>P(positive | x).</summary>
    public double Probability(double x) => Sigmoid(Weight * ((x - Mean) / Scale) + Bias);

    /// <summary>Fits the model to <paramref name="features"/> with their labels (true: positive class).</summary>
    /// <exception cref="ArgumentException">Different lengths, or a class without samples.</exception>
    public static LogisticRegression Fit(IReadOnlyList<double> features, IReadOnlyList<bool> labels, bool balanced = true, double c = DefaultC)
    {
        if (features.Count != labels.Count)
            throw new ArgumentException($"{features.Count} features but {labels.Count} labels", nameof(labels));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(c);
        var n = features.Count;
        var positives = labels.Count(l => l);
        if (positives == 0 || positives == n)
            throw new ArgumentException("both classes need samples to fit a logistic regression", nameof(labels));
        if (features.Any(x => !double.IsFinite(x)))
            throw new ArgumentException("the features must be finite", nameof(features));

        var mean = features.Average();
        var variance = features.Sum(x => (x - mean) * (x - mean)) / n;
        var scale = variance > 0 ? Math.Sqrt(variance) : 1;
        var z = features.Select(x => (x - mean) / scale).ToArray();
        var y = labels.Select(l => l ? 1.0 : 0.0).ToArray();
        var (positiveWeight, negativeWeight) = balanced ? (n / (2.0 * positives), n / (2.0 * (n - positives))) : (1.0, 1.0);
        var s = labels.Select(l => c * (l ? positiveWeight : negativeWeight)).ToArray();

        double w = 0, b = 0;
        var objective = Objective(z, y, s, w, b);
        for (var iteration = 0; iteration < MaxIterations; iteration++)
        {
            // Gradient and Hessian of Σ sᵢ·CE + ½w² with respect to (w, b).
            double gw = w, gb = 0, hww = 1, hwb = 0, hbb = 0;
            for (var i = 0; i < n; i++)
            {
                var p = Sigmoid(w * z[i] + b);
                var r = s[i] * (p - y[i]);
                var h = s[i] * p * (1 - p);
                gw += r * z[i];
                gb += r;
                hww += h * z[i] * z[i];
                hwb += h * z[i];
                hbb += h;
            }
            if (Math.Max(Math.Abs(gw), Math.Abs(gb)) < GradientTolerance) break;
            hbb = Math.Max(hbb, 1e-12);
            var det = hww * hbb - hwb * hwb;
            var (dw, db) = det > 1e-300 ? ((hbb * gw - hwb * gb) / det, (hww * gb - hwb * gw) / det) : (gw / hww, gb / hbb);
            // Backtrack while the objective grows by more than its rounding error (near the optimum
            // the change is below that, and the full Newton step is right).
            var slack = 1e-12 * Math.Max(1, Math.Abs(objective));
            var step = 1.0;
            var next = Objective(z, y, s, w - dw, b - db);
            while (!(next <= objective + slack) && step > 1e-10)
            {
                step /= 2;
                next = Objective(z, y, s, w - step * dw, b - step * db);
            }
            if (!(next <= objective + slack)) break; // no descent left
            w -= step * dw;
            b -= step * db;
            objective = next;
        }
        return new LogisticRegression(mean, scale, w, b);
    }

    private static double Objective(double[] z, double[] y, double[] s, double w, double b)
    {
        var sum = 0.5 * w * w;
        for (var i = 0; i < z.Length; i++)
        {
            // CE = log(1 + e^t) − y·t, t = w·z + b, computed without overflow.
            var t = w * z[i] + b;
            var softplus = t > 0 ? t + double.LogP1(Math.Exp(-t)) : double.LogP1(Math.Exp(t));
            sum += s[i] * (softplus - y[i] * t);
        }
        return sum;
    }

    private static double Sigmoid(double t) => t >= 0 ? 1 / (1 + Math.Exp(-t)) : Math.Exp(t) / (1 + Math.Exp(t));
}
