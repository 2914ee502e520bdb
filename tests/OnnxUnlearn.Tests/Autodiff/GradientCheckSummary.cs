namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>After the Autodiff tests have run, writes the worst relative gradient error per test
/// class to <c>gradient-check-summary.txt</c> in the test output folder.</summary>
[SetUpFixture]
public class GradientCheckSummary
{
    [OneTimeTearDown]
    public void Report()
    {
        if (GradientChecker.WorstByFixture.IsEmpty) return;
        var lines = GradientChecker.WorstByFixture.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{p.Key}\t{p.Value:G3}");
        File.WriteAllLines(Path.Combine(TestContext.CurrentContext.WorkDirectory, "gradient-check-summary.txt"), lines);
    }
}
