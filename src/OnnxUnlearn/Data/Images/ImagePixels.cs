using SkiaSharp;

namespace OnnxUnlearn.Data.Images;

/// <summary>
/// Decodes an image file (SkiaSharp: PNG, JPEG, BMP, WebP; no color management, EXIF orientation
/// ignored, alpha dropped — as PIL's convert('RGB') does) to pixel values 0..255 in the target's
/// layout: gray = 0.299 R + 0.587 G + 0.114 B with PIL's rounding (before resizing, as PIL's
/// convert('L') comes before torchvision's Resize); then the image is scaled (bilinear, with
/// mipmaps when shrinking by 2x or more) so that it just covers the target H×W — for a square target, the
/// shorter side becomes the target size, as torchvision's Resize(size) — and center-cropped.
/// An image already of the target size is used pixel for pixel. Stateless, so thread-safe.
/// </summary>
internal sealed class ImagePixels(InputSpec target)
{
    /// <summary>Plain bilinear; mipmaps cost about 4x the scaling time, so only shrinking by 2x or more, which would alias without them, uses them.</summary>
    private static readonly SKSamplingOptions Bilinear = new(SKFilterMode.Linear, SKMipmapMode.None);
    private static readonly SKSamplingOptions Trilinear = new(SKFilterMode.Linear, SKMipmapMode.Linear);

    /// <summary>True when SkiaSharp recognises the file's format and reads a non-empty size from its header.</summary>
    public static bool HasReadableHeader(string path)
    {
        using var codec = SKCodec.Create(path);
        return codec is not null && codec.Info.Width > 0 && codec.Info.Height > 0;
    }

    /// <summary>Writes the image at <paramref name="path"/> into <paramref name="destination"/> (the target's sample size).</summary>
    /// <exception cref="UserInputException">The file is not a decodable image; the message names it.</exception>
    public void Decode(string path, Span<float> destination)
    {
        using var decoded = DecodeRgba(path);
        if (target.Channels == 1)
            ToGray(decoded.GetPixelSpan());

        var (width, height) = CoverSize(decoded.Width, decoded.Height);
        using var scaled = width == decoded.Width && height == decoded.Height ? null : Scale(decoded, width, height);
        var source = scaled ?? decoded;
        var top = (int)Math.Round((height - target.Height) / 2.0, MidpointRounding.ToEven);
        var left = (int)Math.Round((width - target.Width) / 2.0, MidpointRounding.ToEven);
        WriteCrop(source.GetPixelSpan(), source.RowBytes, top, left, destination);
    }

    private static SKBitmap DecodeRgba(string path)
    {
        using var codec = SKCodec.Create(path, out var result);
        if (codec is null)
            throw new UserInputException($"{path}: not a decodable image ({result}); delete or replace the file, or pass --skip-bad to leave out such files");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var bitmap = new SKBitmap(info);
        result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new UserInputException($"{path}: the image data is damaged ({result}); delete or replace the file");
        }
        return bitmap;
    }

    /// <summary>PIL's "L" conversion, integer-exact: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, written to R, G and B.</summary>
    private static void ToGray(Span<byte> rgba)
    {
        for (var i = 0; i < rgba.Length; i += 4)
        {
            var gray = (byte)((rgba[i] * 19595 + rgba[i + 1] * 38470 + rgba[i + 2] * 7471 + 0x8000) >> 16);
            rgba[i] = rgba[i + 1] = rgba[i + 2] = gray;
        }
    }

    /// <summary>The smallest size with the image's aspect ratio (sides rounded down) that covers the target.</summary>
    private (int Width, int Height) CoverSize(int width, int height)
    {
        if ((long)target.Width * height >= (long)target.Height * width)
            return (target.Width, Math.Max(target.Height, (int)((long)height * target.Width / width)));
        return (Math.Max(target.Width, (int)((long)width * target.Height / height)), target.Height);
    }

    private static SKBitmap Scale(SKBitmap source, int width, int height)
    {
        var scaled = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var shrinksByHalf = width * 2 <= source.Width || height * 2 <= source.Height;
        if (!source.ScalePixels(scaled, shrinksByHalf ? Trilinear : Bilinear))
        {
            scaled.Dispose();
            throw new InvalidOperationException($"SkiaSharp could not scale a {source.Width}x{source.Height} image to {width}x{height}");
        }
        return scaled;
    }

    private void WriteCrop(ReadOnlySpan<byte> rgba, int rowBytes, int top, int left, Span<float> destination)
    {
        int channels = target.Channels, height = target.Height, width = target.Width;
        // Element (y, x, c) of the sample lies at y*rowStride + x*pixelStride + c*channelStride.
        var channelsFirst = target.Layout == InputLayout.Nchw;
        var channelStride = channelsFirst ? height * width : 1;
        var pixelStride = channelsFirst ? 1 : channels;
        for (var y = 0; y < height; y++)
        {
            var row = rgba.Slice((top + y) * rowBytes + left * 4, width * 4);
            var rowStart = y * width * pixelStride;
            for (var x = 0; x < width; x++)
            {
                for (var c = 0; c < channels; c++)
                    destination[rowStart + x * pixelStride + c * channelStride] = row[x * 4 + c];
            }
        }
    }
}
