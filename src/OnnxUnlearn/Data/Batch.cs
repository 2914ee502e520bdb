namespace OnnxUnlearn.Data;

/// <summary>
/// One batch from a <see cref="BatchReader"/>: <see cref="Count"/> samples, preprocessed, and their
/// labels. The buffers are allocated once at full batch size on the pinned-object heap (so they can
/// back native tensors without pinning) and reused: the consumer owns a batch from the moment the
/// reader yields it until it passes it to <see cref="BatchReader.Return"/>, after which it must not
/// touch it (or any Memory taken from it). Not thread-safe; hand it between threads with care.
/// </summary>
public sealed class Batch
{
    private readonly float[] samples;
    private readonly long[] labels;
    private readonly int[] indices;
    private readonly int sampleSize;

    internal Batch(BatchReader owner, int capacity, int sampleSize)
    {
        Owner = owner;
        this.sampleSize = sampleSize;
        samples = GC.AllocateUninitializedArray<float>(capacity * sampleSize, pinned: true);
        labels = GC.AllocateUninitializedArray<long>(capacity, pinned: true);
        indices = new int[capacity];
    }

    /// <summary>The batch's position in its pass, from 0.</summary>
    public int Number { get; private set; }

    /// <summary>How many samples the batch holds; the last batch of a pass may hold fewer than the batch size.</summary>
    public int Count { get; private set; }

    /// <summary>The samples, float32 [Count × SampleSize] in the target's layout.</summary>
    public Memory<float> Samples => samples.AsMemory(0, Count * sampleSize);

    /// <summary>The labels, int64 [Count].</summary>
    public Memory<long> Labels => labels.AsMemory(0, Count);

    /// <summary>The data set indices of the samples, in batch order.</summary>
    public ReadOnlyMemory<int> Indices => indices.AsMemory(0, Count);

    internal BatchReader Owner { get; }

    /// <summary>Set while the consumer owns the batch; guards against returning it twice.</summary>
    internal bool IsLent { get; set; }

    internal int Capacity => labels.Length;

    /// <summary>Reads the samples at <paramref name="order"/> into this batch (called by the reader's producer thread).</summary>
    internal void Fill(int number, ReadOnlySpan<int> order, ILabeledDataset data)
    {
        Number = number;
        Count = order.Length;
        order.CopyTo(indices);
        data.ReadSamples(order, samples.AsSpan(0, order.Length * sampleSize));
        for (var i = 0; i < order.Length; i++)
            labels[i] = data.Labels[order[i]];
    }
}
