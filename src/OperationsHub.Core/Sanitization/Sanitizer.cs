using System.Text;
using System.Text.RegularExpressions;

namespace OperationsHub.Core.Sanitization;

/// <summary>
/// The one place where secrets are scrubbed. Everything the engine persists into failures, context or events, and
/// everything it logs about them, goes through here first. It is deliberately greedy: losing part of an error
/// message is cheap, leaking a token into a table every tenant admin can read is not.
/// </summary>
public static partial class Sanitizer
{
    public const string Redacted = "[redacted]";

    /// <summary>Bound for messages (failures, events).</summary>
    public const int MaxMessageLength = 1000;

    /// <summary>Bound for single values (context inputs, target, failure codes).</summary>
    public const int MaxValueLength = 256;

    private const string Ellipsis = "…";

    private static readonly string[] SensitiveKeyFragments =
    [
        "password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key", "accountkey",
        "sharedaccesskey", "authorization", "credential", "signature", "privatekey", "private_key", "cookie",
        "session", "assertion",
    ];

    /// <summary>Scrubs a free-text message and bounds it to <paramref name="maxLength"/> characters.</summary>
    public static string SanitizeText(string? text, int maxLength = MaxMessageLength)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        // Cut very long input before the regexes see it: a 10 MB payload must not cost 10 MB of regex work.
        var value = text.Length > maxLength * 4 ? text[..(maxLength * 4)] : text;
        value = StripMarkup(value);
        value = PemBlock().Replace(value, Redacted);
        value = AuthorizationHeader().Replace(value, m => m.Groups["name"].Value + ": " + Redacted);
        value = BearerToken().Replace(value, m => m.Groups["scheme"].Value + " " + Redacted);
        value = Jwt().Replace(value, Redacted);
        value = UrlCredentials().Replace(value, "${scheme}" + Redacted + "@");
        value = JsonSecret().Replace(value, m => m.Groups["key"].Value + "\"" + Redacted + "\"");
        value = KeyValueSecret().Replace(value, m => m.Groups["key"].Value + m.Groups["sep"].Value + Redacted);
        value = LongOpaqueToken().Replace(value, Redacted);
        value = RemoveControlCharacters(value);
        return Truncate(value.Trim(), maxLength);
    }

    /// <summary>Scrubs one named value: a sensitive name redacts the whole value, whatever it holds.</summary>
    public static string SanitizeValue(string key, string? value, int maxLength = MaxValueLength)
        => IsSensitiveKey(key) ? Redacted : SanitizeText(value, maxLength);

    /// <summary>
    /// Scrubs the name of a caller-given input like a value (a name such as <c>password=hunter2</c> or
    /// <c>Bearer eyJ…</c> carries the secret itself), then bounds it like a key.
    /// </summary>
    public static string SanitizeName(string? name, int maxLength = 64) => SanitizeText(name, maxLength);

    /// <summary>Bounds and cleans a key or code without scrubbing it as a secret.</summary>
    public static string SanitizeKey(string? key, int maxLength = 64)
    {
        var cleaned = RemoveControlCharacters(key ?? string.Empty).Trim();
        return Truncate(cleaned, maxLength);
    }

    public static bool IsSensitiveKey(string key)
    {
        var normalized = key.Replace(" ", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
        foreach (var fragment in SensitiveKeyFragments)
        {
            if (normalized.Contains(fragment, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return normalized is "sig" or "key" or "pass" or "auth";
    }

    private static string StripMarkup(string value)
    {
        if (value.IndexOf('<', StringComparison.Ordinal) < 0)
        {
            return value;
        }

        // Raw HTML error pages are payloads, not messages: keep their text, drop scripts, styles and tags.
        value = ScriptOrStyleBlock().Replace(value, " ");
        return HtmlTag().Replace(value, " ");
    }

    /// <summary>
    /// Drops control characters (but newline and tab) and invisible direction marks. For text that is stored, and for
    /// text that becomes a query parameter: PostgreSQL refuses a NUL in text outright.
    /// </summary>
    public static string RemoveControlCharacters(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        StringBuilder? builder = null;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            var drop = (char.IsControl(c) && c is not '\n' and not '\t') || IsBidiControl(c);
            if (drop && builder is null)
            {
                builder = new StringBuilder(value.Length);
                builder.Append(value, 0, i);
            }

            if (!drop)
            {
                builder?.Append(c);
            }
        }

        return builder?.ToString() ?? value;
    }

    // Bidirectional overrides and zero-width characters can make a message read differently from what it says.
    private static bool IsBidiControl(char c) => c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069'
        or '\u200B' or '\u200E' or '\u200F' or '\uFEFF';

    private static string Truncate(string value, int maxLength)
    {
        if (value.Length <= maxLength)
        {
            return value;
        }

        var cut = maxLength - Ellipsis.Length;
        // Never split a surrogate pair.
        if (cut > 0 && char.IsHighSurrogate(value[cut - 1]))
        {
            cut--;
        }

        return value[..cut] + Ellipsis;
    }

    [GeneratedRegex(@"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)")]
    private static partial Regex PemBlock();

    [GeneratedRegex(@"(?<name>\b(?:proxy-)?authorization)\s*[:=]\s*(?:(?:bearer|basic|digest|negotiate|ntlm|sharedkey|sas)\s+)?[^\s,;""'}]+", RegexOptions.IgnoreCase)]
    private static partial Regex AuthorizationHeader();

    [GeneratedRegex(@"(?<scheme>\b(?:bearer|basic))\s+[A-Za-z0-9\-._~+/]{8,}=*", RegexOptions.IgnoreCase)]
    private static partial Regex BearerToken();

    [GeneratedRegex(@"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")]
    private static partial Regex Jwt();

    [GeneratedRegex(@"(?<scheme>\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", RegexOptions.IgnoreCase)]
    private static partial Regex UrlCredentials();

    [GeneratedRegex(@"(?<key>""[^""]*(?:password|passwd|pwd|secret|token|apikey|api_key|key|sig|signature|authorization|credential|assertion|cookie)[^""]*""\s*:\s*)(?:""(?:[^""\\]|\\.)*""|[^,}\s]+)", RegexOptions.IgnoreCase)]
    private static partial Regex JsonSecret();

    [GeneratedRegex(@"(?<key>\b[\w.-]*(?:password|passwd|pwd|secret|token|apikey|api_key|api-key|accountkey|sharedaccesskey|sharedaccesssignature|credential|signature|assertion|sig|cookies?)\b|(?<=[?&])code)(?<sep>\s*[=:]\s*)(?:""[^""]*""|'[^']*'|[^\s;&,""'}]+)", RegexOptions.IgnoreCase)]
    private static partial Regex KeyValueSecret();

    // Opaque high-entropy runs (API keys, signatures without their name) of 40+ token characters. '/' is not one of
    // them, so a URL path ("graph.example/beta/deviceManagement/...") stays readable; base64 with slashes still
    // leaves 40-character pieces that match.
    [GeneratedRegex(@"(?<![A-Za-z0-9+_-])(?=[A-Za-z0-9+_-]*[0-9])(?=[A-Za-z0-9+_-]*[A-Za-z])[A-Za-z0-9+_-]{40,}={0,2}")]
    private static partial Regex LongOpaqueToken();

    [GeneratedRegex(@"<(script|style)\b[^>]*>[\s\S]*?(</\1\s*>|$)", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptOrStyleBlock();

    [GeneratedRegex(@"</?[A-Za-z!][^<>]*>")]
    private static partial Regex HtmlTag();
}
