namespace OnnxUnlearn.Training;

/// <summary>Seeded random tensors (System.Random, so the same seed gives the same values everywhere).</summary>
internal static class RandomValues
{
    /// <summary>Standard normal values (Box-Muller).</summary>
    public static float[] Normal(Random random, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return values;
    }

    /// <summary>Values uniform in [−bound, bound).</summary>
    public static float[] Uniform(Random random, int count, double bound)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        return values;
    }
}
