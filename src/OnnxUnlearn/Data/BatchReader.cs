using System.Collections.Concurrent;

namespace OnnxUnlearn.Data;

/// <summary>
/// Reads a data set in batches, in a given order, with a background thread that decodes up to
/// <c>prefetch</c> batches ahead, so that the consumer (a training or evaluation step) does not wait
/// on decoding. Ownership: each <see cref="Batch"/> yielded by <see cref="ReadAll"/> belongs to the
/// consumer until it calls <see cref="Return"/>; returned batches are refilled, so a consumer that
/// returns each batch once done with it (e.g. after the next step was started: ping-pong) keeps
/// about prefetch + 2 buffers alive in all. Returning is optional: a batch never returned is left
/// to the garbage collector and a fresh one allocated. One pass at a time per reader; the data set
/// must stay open while the reader is used. Disposing stops a running pass.
/// </summary>
public sealed class BatchReader : IDisposable
{
    private readonly ILabeledDataset data;
    private readonly int[] order;
    private readonly int batchSize;
    private readonly int prefetch;
    // A stack, not a ConcurrentBag: the bag keeps a list per returning thread that (through the
    // batches) keeps this reader and its buffers alive for that thread's lifetime.
    private readonly ConcurrentStack<Batch> free = new();
    private CancellationTokenSource? activePass;
    private bool disposed;

    /// <param name="data">The samples; read through <see cref="ILabeledDataset.ReadSamples"/>.</param>
    /// <param name="order">The data set indices in reading order (copied; repeats allowed).</param>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="prefetch">How many decoded batches may wait for the consumer.</param>
    /// <param name="dropLast">Leave out a last batch smaller than <paramref name="batchSize"/>.</param>
    public BatchReader(ILabeledDataset data, IReadOnlyList<int> order, int batchSize, int prefetch = 2, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(prefetch, 1);
        this.data = data;
        this.order = [.. order];
        this.batchSize = batchSize;
        this.prefetch = prefetch;
        var outside = Array.FindIndex(this.order, i => (uint)i >= (uint)data.Count);
        if (outside >= 0)
            throw new ArgumentOutOfRangeException(nameof(order), this.order[outside], $"order[{outside}] is not a sample index of {data.Source} ({data.Count} samples)");
        BatchCount = dropLast ? this.order.Length / batchSize : (this.order.Length + batchSize - 1) / batchSize;
    }

    public int BatchCount { get; }

    /// <summary>
    /// One pass over the order, batch by batch; decoding starts when enumeration starts and stops
    /// when it ends (also on an early break). A failure while decoding (e.g. a corrupt image,
    /// <see cref="UserInputException"/>) is thrown from the enumeration as it was thrown.
    /// </summary>
    public IEnumerable<Batch> ReadAll()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return ReadPass();
    }

    /// <summary>Gives a batch back for reuse; the caller must not touch it afterwards. Thread-safe.</summary>
    /// <exception cref="ArgumentException">The batch comes from another reader.</exception>
    /// <exception cref="InvalidOperationException">The batch was already returned.</exception>
    public void Return(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Owner != this)
            throw new ArgumentException("the batch comes from another BatchReader", nameof(batch));
        if (!batch.IsLent)
            throw new InvalidOperationException($"batch {batch.Number} was returned twice");
        batch.IsLent = false;
        free.Push(batch);
    }

    public void Dispose()
    {
        disposed = true;
        try
        {
            activePass?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The pass ended meanwhile.
        }
    }

    private IEnumerable<Batch> ReadPass()
    {
        using var cancel = new CancellationTokenSource();
        if (Interlocked.CompareExchange(ref activePass, cancel, null) is not null)
            throw new InvalidOperationException("this BatchReader is already in a pass; finish or stop it before starting another");
        using var queue = new BlockingCollection<Batch>(prefetch);
        var producer = Task.Factory.StartNew(() => Produce(queue, cancel.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            foreach (var batch in queue.GetConsumingEnumerable())
            {
                batch.IsLent = true;
                yield return batch;
            }
            producer.GetAwaiter().GetResult(); // a decoding failure surfaces here, unwrapped
            ObjectDisposedException.ThrowIf(cancel.IsCancellationRequested, this);
        }
        finally
        {
            cancel.Cancel();
            try
            {
                producer.Wait();
            }
            catch (AggregateException)
            {
                // Already thrown above, or the consumer stopped early and no longer cares.
            }
            while (queue.TryTake(out var unread))
                free.Push(unread);
            activePass = null;
        }
    }

    private void Produce(BlockingCollection<Batch> queue, CancellationToken cancel)
    {
        try
        {
            for (var number = 0; number < BatchCount && !cancel.IsCancellationRequested; number++)
            {
                var batch = free.TryPop(out var reused) ? reused : new Batch(this, batchSize, data.Target.SampleSize);
                var start = number * batchSize;
                try
                {
                    batch.Fill(number, order.AsSpan(start, Math.Min(batchSize, order.Length - start)), data);
                    queue.Add(batch, cancel);
                }
                catch
                {
                    free.Push(batch);
                    throw;
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The consumer stopped early or the reader was disposed.
        }
        finally
        {
            queue.CompleteAdding();
        }
    }
}
