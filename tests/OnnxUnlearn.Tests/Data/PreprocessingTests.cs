using OnnxUnlearn.Data;

namespace OnnxUnlearn.Tests.Data;

[TestFixture]
public class PreprocessingTests : DataTestBase
{
    [Test]
    public void PresetsHaveTheirPublishedValues()
    {
        Assert.That(Preprocessing.FromPreset("fmnist").ToString(), Is.EqualTo("scale=0.00392157 mean=[0.286] std=[0.353]"));
        Assert.That(Preprocessing.FromPreset("MNIST").ToString(), Is.EqualTo("scale=0.00392157 mean=[0.1307] std=[0.3081]"));
        Assert.That(Preprocessing.FromPreset("imagenet").ToString(), Is.EqualTo("scale=0.00392157 mean=[0.485,0.456,0.406] std=[0.229,0.224,0.225]"));
        Assert.That(Preprocessing.FromPreset("cifar10").ToString(), Is.EqualTo("scale=0.00392157 mean=[0.4914,0.4822,0.4465] std=[0.247,0.2435,0.2616]"));
        Assert.That(Preprocessing.None.ToString(), Is.EqualTo("scale=1 mean=[0] std=[1]"));
    }

    [Test]
    public void UnknownPresetListsTheValidNames()
    {
        Assert.That(() => Preprocessing.FromPreset("coco"), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo("--preprocess: unknown preprocessing 'coco'; use one of imagenet, cifar10, mnist, fmnist, none"));
    }

    [Test]
    public void ExplicitValuesOverrideThePreset()
    {
        var result = Preprocessing.Parse("imagenet", "1/127.5", "1", "0.5, 0.25 ,1");

        Assert.That(result.Scale, Is.EqualTo(1f / 127.5f));
        Assert.That(result.Mean, Is.EqualTo(new[] { 1f }));
        Assert.That(result.Std, Is.EqualTo(new[] { 0.5f, 0.25f, 1f }));
        Assert.That(Preprocessing.Parse(null, "2", null, null).ToString(), Is.EqualTo("scale=2 mean=[0] std=[1]"));
    }

    [Test]
    public void PresetsAreNotSharedMutableState()
    {
        Preprocessing.FromPreset("mnist").Mean[0] = 99;

        Assert.That(Preprocessing.FromPreset("mnist").Mean, Is.EqualTo(new[] { 0.1307f }));
    }

    [TestCase("abc", null, null, "--scale: 'abc' is not a number")]
    [TestCase("1/0", null, null, "--scale: '1/0' divides by zero")]
    [TestCase(null, "0.5,x", null, "--mean: 'x' in '0.5,x' is not a number")]
    [TestCase(null, null, "0,5", "--std: every value must be positive, got '0,5'")]
    [TestCase(null, null, "1,,2", "--std: '' in '1,,2' is not a number")]
    public void BadNumbersNameTheFlag(string? scale, string? mean, string? std, string message)
    {
        Assert.That(() => Preprocessing.Parse(null, scale, mean, std), Throws.TypeOf<UserInputException>().With.Message.EqualTo(message));
    }

    [Test]
    public void ChannelCountsMustMatchTheModel()
    {
        var path = Files.WriteText("data.csv", "label,a,b\n0,1,2\n");
        var imagenet = new DataOptions { Path = path, Preprocessing = Preprocessing.FromPreset("imagenet") };
        var twoStd = new DataOptions { Path = path, Preprocessing = Preprocessing.Parse(null, null, null, "1,2") };

        Assert.That(() => DatasetLoader.Open(imagenet, Flat(2)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo("the preprocessing mean has 3 values (from --mean or --preset) but the model input 'input' has 2 features; give 1 or 2 values"));
        Assert.That(() => DatasetLoader.Open(twoStd, Nchw(1, 1, 2)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo("the preprocessing std has 2 values (from --std or --preset) but the model input 'input' has 1 channel; give 1 value"));
    }
}
