using OnnxUnlearn.Data;

namespace OnnxUnlearn.Tests.Data;

[TestFixture]
public class BatchReaderTests
{
    /// <summary>Sample i is [i, i + 0.5]; label i % 3. Counts reads; can fail on a chosen index.</summary>
    private sealed class FakeDataset(int count) : ILabeledDataset
    {
        public int FailAt { get; init; } = -1;
        public int Reads;

        public string Source => "fake";
        public int Count => count;
        public IReadOnlyList<int> Labels { get; } = Enumerable.Range(0, count).Select(i => i % 3).ToArray();
        public IReadOnlyList<string>? ClassNames => null;
        public int SkippedCount => 0;
        public bool HoldsPixels => false;
        public InputSpec Target { get; } = new("input", InputLayout.Flat, [2]);

        public void ReadSamples(ReadOnlySpan<int> indices, Span<float> destination)
        {
            Interlocked.Increment(ref Reads);
            for (var i = 0; i < indices.Length; i++)
            {
                if (indices[i] == FailAt)
                    throw new UserInputException($"fake: sample {FailAt} is broken");
                destination[2 * i] = indices[i];
                destination[2 * i + 1] = indices[i] + 0.5f;
            }
        }

        public void Dispose()
        {
        }
    }

    [Test]
    public void BatchesFollowTheOrderAndTheLastOneIsSmaller()
    {
        var data = new FakeDataset(10);
        int[] order = [9, 2, 2, 7, 0, 5, 1];
        using var reader = new BatchReader(data, order, batchSize: 3);

        var batches = reader.ReadAll().Select(b => (b.Number, b.Count, Samples: b.Samples.ToArray(), Labels: b.Labels.ToArray(), Indices: b.Indices.ToArray())).ToList();

        Assert.That(reader.BatchCount, Is.EqualTo(3));
        Assert.That(batches.Select(b => b.Number), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(batches.Select(b => b.Count), Is.EqualTo(new[] { 3, 3, 1 }));
        Assert.That(batches.SelectMany(b => b.Indices), Is.EqualTo(order));
        Assert.That(batches[0].Samples, Is.EqualTo(new[] { 9, 9.5f, 2, 2.5f, 2, 2.5f }));
        Assert.That(batches[2].Samples, Is.EqualTo(new[] { 1, 1.5f }));
        Assert.That(batches.SelectMany(b => b.Labels), Is.EqualTo(order.Select(i => (long)(i % 3))));
    }

    [Test]
    public void DropLastLeavesOutTheShortBatch()
    {
        using var reader = new BatchReader(new FakeDataset(10), Enumerable.Range(0, 7).ToArray(), batchSize: 3, dropLast: true);

        Assert.That(reader.BatchCount, Is.EqualTo(2));
        Assert.That(reader.ReadAll().Select(b => b.Count), Is.EqualTo(new[] { 3, 3 }));
    }

    [Test]
    public void ReturnedBuffersAreReusedAndPassesRepeat()
    {
        var data = new FakeDataset(100);
        using var reader = new BatchReader(data, Enumerable.Range(0, 100).ToArray(), batchSize: 10, prefetch: 1);
        var buffers = new HashSet<float[]>(ReferenceEqualityComparer.Instance);

        for (var pass = 0; pass < 2; pass++)
        {
            Batch? previous = null;
            var first = new List<float>();
            foreach (var batch in reader.ReadAll())
            {
                Assert.That(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<float>(batch.Samples, out var segment), Is.True);
                buffers.Add(segment.Array!);
                first.Add(batch.Samples.Span[0]);
                if (previous is not null)
                    reader.Return(previous); // ping-pong: keep the last batch while the next one is in use
                previous = batch;
            }
            reader.Return(previous!);
            Assert.That(first, Is.EqualTo(Enumerable.Range(0, 10).Select(i => i * 10f)));
        }

        // prefetch 1: one waiting, one being filled, two held by the consumer.
        Assert.That(buffers.Count, Is.LessThanOrEqualTo(4));
        Assert.That(data.Reads, Is.EqualTo(20));
    }

    [Test]
    public void ReturnChecksOwnershipAndDoubleReturns()
    {
        var data = new FakeDataset(4);
        using var reader = new BatchReader(data, [0, 1], batchSize: 2);
        using var other = new BatchReader(data, [0, 1], batchSize: 2);
        var batch = reader.ReadAll().Single();

        Assert.That(() => other.Return(batch), Throws.ArgumentException);
        reader.Return(batch);
        Assert.That(() => reader.Return(batch), Throws.InvalidOperationException.With.Message.EqualTo("batch 0 was returned twice"));
    }

    [Test]
    public void DecodingRunsAheadOfTheConsumerButNoFurtherThanPrefetch()
    {
        var data = new FakeDataset(100);
        using var reader = new BatchReader(data, Enumerable.Range(0, 100).ToArray(), batchSize: 10, prefetch: 2);

        using var batches = reader.ReadAll().GetEnumerator();
        Assert.That(batches.MoveNext(), Is.True);

        // One batch held, two queued, one filled and blocked on the full queue.
        Assert.That(() => data.Reads, Is.EqualTo(4).After(5000, 10));
        Thread.Sleep(100);
        Assert.That(data.Reads, Is.EqualTo(4));
    }

    [Test]
    public void StoppingEarlyStopsTheProducer()
    {
        var data = new FakeDataset(1000);
        using var reader = new BatchReader(data, Enumerable.Range(0, 1000).ToArray(), batchSize: 10);

        var firstTwo = reader.ReadAll().Take(2).Select(b => b.Indices.Span[0]).ToList();
        var readsAfterStop = data.Reads;
        Thread.Sleep(100);

        Assert.That(firstTwo, Is.EqualTo(new[] { 0, 10 }));
        Assert.That(data.Reads, Is.EqualTo(readsAfterStop));
        Assert.That(reader.ReadAll().Count(), Is.EqualTo(100), "a new pass can start after an early stop");
    }

    [Test]
    public void DecodingFailuresReachTheConsumerUnwrapped()
    {
        using var reader = new BatchReader(new FakeDataset(10) { FailAt = 5 }, Enumerable.Range(0, 10).ToArray(), batchSize: 2);
        var seen = new List<int>();

        Assert.That(() => { foreach (var batch in reader.ReadAll()) seen.Add(batch.Number); },
            Throws.TypeOf<UserInputException>().With.Message.EqualTo("fake: sample 5 is broken"));
        Assert.That(seen, Is.EqualTo(new[] { 0, 1 }));
    }

    [Test]
    public void OnePassAtATimeAndDisposeStopsAPass()
    {
        var reader = new BatchReader(new FakeDataset(100), Enumerable.Range(0, 100).ToArray(), batchSize: 10);
        using var pass = reader.ReadAll().GetEnumerator();
        Assert.That(pass.MoveNext(), Is.True);

        Assert.That(() => reader.ReadAll().First(), Throws.InvalidOperationException);
        reader.Dispose();

        Assert.That(() => { while (pass.MoveNext()) { } }, Throws.TypeOf<ObjectDisposedException>());
        Assert.That(() => reader.ReadAll(), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void InvalidArgumentsAreCallerBugs()
    {
        var data = new FakeDataset(3);

        Assert.That(() => new BatchReader(data, [0, 3], 2), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("order[1] is not a sample index of fake (3 samples)"));
        Assert.That(() => new BatchReader(data, [0], 0), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => new BatchReader(data, [0], 1, prefetch: 0), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
