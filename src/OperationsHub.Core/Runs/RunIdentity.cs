using System.Security.Cryptography;
using System.Text;

namespace OperationsHub.Core.Runs;

/// <summary>
/// The identity of a piece of work: two start requests with the same tenant, type and identity inputs are the same
/// work, and while one of them is active the other is deduped to it.
/// </summary>
public static class RunIdentity
{
    /// <summary>
    /// SHA-256 (lower-case hex) over a canonical, length-prefixed form of tenant, type and inputs sorted by key
    /// (ordinal). Length prefixes make the encoding unambiguous: no choice of values can collide by concatenation.
    /// </summary>
    public static string ComputeHash(long tenantId, string type, IReadOnlyDictionary<string, string>? identityInputs)
    {
        var builder = new StringBuilder(128);
        Append(builder, "v1");
        Append(builder, tenantId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Append(builder, type);
        if (identityInputs is not null)
        {
            foreach (var (key, value) in identityInputs.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                Append(builder, key);
                Append(builder, value);
            }
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(builder.ToString()));
        return Convert.ToHexStringLower(hash);
    }

    private static void Append(StringBuilder builder, string value) =>
        builder.Append(value.Length).Append(':').Append(value).Append(';');
}
