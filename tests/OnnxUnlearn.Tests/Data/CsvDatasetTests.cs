using OnnxUnlearn.Data;

namespace OnnxUnlearn.Tests.Data;

[TestFixture]
public class CsvDatasetTests : DataTestBase
{
    private const string Iris = "sepal_length,sepal_width,label,petal_width\n5.1,3.5,0,0.2\n\"6.0\", 2.2 ,2,1.5e0\n\n";

    [Test]
    public void ReadsFeaturesInColumnOrderAroundTheLabelColumn()
    {
        var path = Files.WriteText("iris.csv", Iris);

        using var data = Open(path, Flat(3));

        Assert.That(data.Labels, Is.EqualTo(new[] { 0, 2 }));
        Assert.That(ReadAll(data), Is.EqualTo(new[] { 5.1f, 3.5f, 0.2f, 6.0f, 2.2f, 1.5f }));
    }

    [Test]
    public void AppliesPerFeaturePreprocessingAndTakesANamedLabelColumn()
    {
        var path = Files.WriteText("t.csv", "a,species,b\n1,4,10\n3,1,30\n");
        var options = new DataOptions { Path = path, LabelColumn = "species", Preprocessing = Preprocessing.Parse(null, null, "2,20", "1,10") };

        using var data = DatasetLoader.Open(options, Flat(2));

        Assert.That(data.Labels, Is.EqualTo(new[] { 4, 1 }));
        Assert.That(ReadAll(data), Is.EqualTo(new[] { -1f, -1f, 1f, 1f }));
    }

    [Test]
    public void PixelColumnsFeedAnImageModel()
    {
        var path = Files.WriteText("mnist.csv", "label,p0,p1,p2,p3\n7,0,64,128,255\n");

        using var data = Open(path, Nchw(1, 2, 2));

        Assert.That(ReadAll(data), Is.EqualTo(new float[] { 0, 64, 128, 255 }));
    }

    [TestCase("a,label,b\n1,0,2\n3,1,abc\n", "row 3, column 'b': 'abc' is not a number")]
    [TestCase("a,label,b\n1,0,2\n3,1,\n", "row 3, column 'b': '' is not a number")]
    [TestCase("a,label,b\n1,0,2\n3,1,nan\n", "row 3, column 'b': 'nan' is not a number")]
    [TestCase("a,label,b\n1,0.5,2\n", "row 2, column 'label': '0.5' is not an integer class index")]
    [TestCase("a,label,b\n1,0,2\n\n3,1\n", "row 4 has 2 fields, the header has 3")]
    [TestCase("a,label,b\n1,0,2,5\n", "row 2 has 4 fields, the header has 3")]
    [TestCase("a,label,b\n1,0,\"2\n", "row 2: a quoted field is not closed")]
    [TestCase("a,label,b\n", "there are no data rows after the header")]
    [TestCase("a,b,c\n1,0,2\n", "no column 'label' (columns: a, b, c); name the label column with --label-column")]
    [TestCase("a,label,b,c\n1,0,2,3\n", "3 feature columns (all but 'label'), the model input 'input' wants 2 ([2])")]
    public void BadTablesNameTheRowAndColumn(string csv, string problem)
    {
        var path = Files.WriteText("data.csv", csv);

        Assert.That(() => Open(path, Flat(2)), Throws.TypeOf<UserInputException>().With.Message.EqualTo($"{path}: {problem}"));
    }
}
