using System.Text;
using OnnxUnlearn.Data.Npy;

namespace OnnxUnlearn.Tests.Data;

[TestFixture]
public class NpyHeaderTests
{
    private static NpyHeader Parse(byte[] npy) => NpyHeader.Read(new MemoryStream(npy), "a.npy");

    [TestCase(1, 128)]
    [TestCase(2, 128)]
    [TestCase(3, 128)]
    public void ReadsEachFormatVersion(int major, int dataOffset)
    {
        var header = Parse(DataFiles.Npy(new float[6], [2, 3], major: major));

        Assert.That(header.Descr, Is.EqualTo("<f4"));
        Assert.That(header.FortranOrder, Is.False);
        Assert.That(header.Shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(header.DataOffset, Is.EqualTo(dataOffset));
    }

    [TestCase("{'descr': '|u1', 'fortran_order': True, 'shape': (7,), }", "|u1", true, new long[] { 7 })]
    [TestCase("{\"shape\": (2L, 3L), \"descr\": \"<i8\", \"fortran_order\": False}", "<i8", false, new long[] { 2, 3 })]
    [TestCase("{'descr':'<f2','fortran_order':False,'shape':()}", "<f2", false, new long[0])]
    public void AcceptsWhatNumpyWrites(string dict, string descr, bool fortran, long[] shape)
    {
        var header = Parse(DataFiles.NpyWithHeader(dict, []));

        Assert.That(header.Descr, Is.EqualTo(descr));
        Assert.That(header.FortranOrder, Is.EqualTo(fortran));
        Assert.That(header.Shape, Is.EqualTo(shape));
    }

    [Test]
    public void StructuredDtypesAreKeptAsTextToBeReported()
    {
        var header = Parse(DataFiles.NpyWithHeader("{'descr': [('a', '<f4'), ('b', '<i8')], 'fortran_order': False, 'shape': (2,), }", []));

        Assert.That(header.Descr, Is.EqualTo("[('a', '<f4'), ('b', '<i8')]"));
    }

    [TestCase("{'descr': '<f4', 'shape': (2,), }", "missing: fortran_order")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", "expected a string, a tuple, True or False")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'order': 'C', }", "unexpected: order")]
    [TestCase("{'descr': '<f4', 'fortran_order': false, 'shape': (2,), }", "expected a string, a tuple, True or False")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "'shape' must be a tuple of non-negative integers")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': 2, }", "expected a string, a tuple, True or False")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", "must end with padding and a newline")]
    [TestCase("{'descr': 4, 'fortran_order': False, 'shape': (2,), }", "expected a string, a tuple, True or False")]
    [TestCase("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "repeats the key 'descr'")]
    [TestCase("{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", "expected '}' at character 17")]
    public void RejectsMalformedHeaders(string dict, string problem)
    {
        Assert.That(() => Parse(DataFiles.NpyWithHeader(dict, [])), Throws.TypeOf<UserInputException>().With.Message
            .StartsWith("a.npy: malformed NPY header (").And.Message.Contains(problem));
    }

    [Test]
    public void RejectsWrongMagicVersionsAndTruncation()
    {
        var valid = DataFiles.Npy(new float[2], [2]);

        Assert.That(() => Parse(Encoding.ASCII.GetBytes("PK\u0003\u0004 not npy")), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo("a.npy: not an NPY array (the file does not start with the NPY magic bytes)"));
        var version4 = (byte[])valid.Clone();
        version4[6] = 4;
        Assert.That(() => Parse(version4), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo("a.npy: NPY format version 4.0 is not supported (1.0, 2.0 and 3.0 are)"));
        Assert.That(() => Parse(valid[..40]), Throws.TypeOf<UserInputException>().With.Message.EqualTo("a.npy: the NPY header is truncated"));
    }
}
