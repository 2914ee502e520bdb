namespace OnnxUnlearn.Data.Arrays;

/// <summary>The numeric element types that array files (NPY, IDX) may hold.</summary>
internal enum ElementType
{
    UInt8,
    Int8,
    Int16,
    UInt16,
    Int32,
    Int64,
    Float16,
    Float32,
    Float64,
}

/// <summary>An element type and its byte order, as stored in a file.</summary>
internal readonly record struct ElementFormat(ElementType Type, bool BigEndian = false)
{
    public int Size => Type switch
    {
        ElementType.UInt8 or ElementType.Int8 => 1,
        ElementType.Int16 or ElementType.UInt16 or ElementType.Float16 => 2,
        ElementType.Int32 or ElementType.Float32 => 4,
        _ => 8,
    };

    public bool IsInteger => Type is not (ElementType.Float16 or ElementType.Float32 or ElementType.Float64);

    /// <summary>Sample arrays must hold floats or bytes (pixels); see <see cref="ElementDecoder"/>.</summary>
    public bool IsSampleType => Type is ElementType.UInt8 or ElementType.Float16 or ElementType.Float32 or ElementType.Float64;

    /// <summary>The type in numpy's spelling, for messages: '&lt;f4', '|u1', '&gt;i2'.</summary>
    public override string ToString()
    {
        var code = Type switch
        {
            ElementType.UInt8 => "u1",
            ElementType.Int8 => "i1",
            ElementType.Int16 => "i2",
            ElementType.UInt16 => "u2",
            ElementType.Int32 => "i4",
            ElementType.Int64 => "i8",
            ElementType.Float16 => "f2",
            ElementType.Float32 => "f4",
            _ => "f8",
        };
        return (Size == 1 ? "|" : BigEndian ? ">" : "<") + code;
    }

    /// <summary>Parses a numpy type string such as '&lt;f4' or '|u1'; false for anything else.</summary>
    public static bool TryParseNumpy(string descr, out ElementFormat format)
    {
        format = default;
        if (descr.Length != 3 || descr[0] is not ('<' or '>' or '|' or '='))
            return false;
        ElementType? type = descr.AsSpan(1) switch
        {
            "u1" => ElementType.UInt8,
            "i1" => ElementType.Int8,
            "i2" => ElementType.Int16,
            "u2" => ElementType.UInt16,
            "i4" => ElementType.Int32,
            "i8" => ElementType.Int64,
            "f2" => ElementType.Float16,
            "f4" => ElementType.Float32,
            "f8" => ElementType.Float64,
            _ => null,
        };
        if (type is null)
            return false;
        // '=' is the writer's native order; every platform .NET runs on is little-endian.
        format = new ElementFormat(type.Value, BigEndian: descr[0] == '>');
        return true;
    }
}
