namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Prints the worst relative gradient error per test class once the Autodiff tests have run
/// (visible with <c>dotnet test --logger "console;verbosity=detailed"</c>).</summary>
[SetUpFixture]
public class GradientCheckSummary
{
    [OneTimeTearDown]
    public void Report()
    {
        foreach (var (fixture, worst) in GradientChecker.WorstByFixture.OrderBy(p => p.Key, StringComparer.Ordinal))
            TestContext.Progress.WriteLine($"gradient check: {fixture}: worst relative error {worst:G3}");
    }
}
