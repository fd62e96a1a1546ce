using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace OperationsHub.Web.Features.ApiTokens;

/// <summary>
/// The shape of a hub API token: <c>opshub_</c> and 43 base64url characters (256 random bits). The prefix makes a leaked
/// token recognisable to secret scanners and to whoever finds it in a log; the database holds only its SHA-256.
/// </summary>
public static class ApiTokenSecrets
{
    public const string Prefix = "opshub_";

    private const int SecretBytes = 32;

    /// <summary>Prefix plus the base64url text of <see cref="SecretBytes"/> bytes, without padding.</summary>
    public static int Length { get; } = Prefix.Length + Base64Url.GetEncodedLength(SecretBytes);

    /// <summary>How much of a token the list shows (and the database keeps in clear): the prefix and four characters.</summary>
    public const int HintLength = 11;

    public static string Generate() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes));

    /// <summary>True for text that could be a hub API token (checked before any database lookup).</summary>
    public static bool IsWellFormed(string? text)
    {
        if (text is null || text.Length != Length || !text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in text.AsSpan(Prefix.Length))
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public static string Hint(string token) => token[..HintLength];
}
