using OperationsHub.Core.Sanitization;

namespace OperationsHub.Core.Tests;

/// <summary>A corpus of hostile inputs: none of the secret parts may survive, and the useful words must.</summary>
public sealed class SanitizerTests
{
    private const string Jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbkBjb250b3NvIiwidGlkIjoiMTIzIn0.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ";

    public static TheoryData<string, string[], string[]> Corpus => new()
    {
        // input, secrets that must be gone, words that must stay
        { $"Authorization: Bearer {Jwt}", [Jwt, "eyJ"], ["Authorization"] },
        { "authorization=Basic dXNlcjpwYXNzd29yZA==", ["dXNlcjpwYXNzd29yZA"], ["authorization"] },
        { $"request failed, header was bearer {Jwt} (401)", [Jwt], ["request failed", "401"] },
        { "Bearer abcdefghijklmnop1234", ["abcdefghijklmnop1234"], ["Bearer"] },
        { $"token {Jwt} expired", [Jwt], ["expired"] },
        { "client_secret=Xy7~Q9.zz_secretvalue", ["Xy7~Q9", "secretvalue"], ["client_secret"] },
        { "client_secret: 'quoted secret value'", ["quoted secret value"], ["client_secret"] },
        { "password=hunter2&user=ops", ["hunter2"], ["user=ops"] },
        { "Password = \"correct horse\"", ["correct horse"], ["Password"] },
        { "pwd=P@ssw0rd!", ["P@ssw0rd"], ["pwd"] },
        { "secret:abc123def", ["abc123def"], ["secret"] },
        { "access_token=ya29.a0AfH6SMBx", ["ya29.a0AfH6SMBx"], ["access_token"] },
        { "refresh_token=1//0gLxx-yy", ["1//0gLxx-yy"], ["refresh_token"] },
        { "api_key=AIzaSyD-1234567", ["AIzaSyD-1234567"], ["api_key"] },
        { "{\"client_secret\":\"json-secret-1\",\"name\":\"ok\"}", ["json-secret-1"], ["\"name\":\"ok\""] },
        { "{\"password\": \"json pass\", \"tenant\": \"contoso\"}", ["json pass"], ["contoso"] },
        { "{\"access_token\":\"tok-999\",\"expires_in\":3599}", ["tok-999"], ["expires_in"] },
        { "{\"apiKey\": 1234567890}", ["1234567890"], ["apiKey"] },
        { "{\"nested\":{\"refreshToken\":\"r-t-1\"}}", ["r-t-1"], ["nested"] },
        { "Server=db.local;Database=hub;User Id=sa;Password=Sup3rS3cret;", ["Sup3rS3cret"], ["Server=db.local", "Database=hub"] },
        { "Host=pg;Username=app;Pwd=pg-pass-7", ["pg-pass-7"], ["Host=pg"] },
        { "DefaultEndpointsProtocol=https;AccountName=store;AccountKey=bXlrZXlteWtleW15a2V5bXlrZXk=;EndpointSuffix=core", ["bXlrZXlteWtleW15a2V5bXlrZXk"], ["AccountName=store"] },
        { "Endpoint=sb://ns.servicebus/;SharedAccessKeyName=root;SharedAccessKey=c2Fza2V5c2Fza2V5", ["c2Fza2V5c2Fza2V5"], ["SharedAccessKeyName"] },
        { "GET https://store.blob/c/f.txt?sv=2024-01-01&se=2026-12-01&sp=r&sig=AbCdEf%2BGhIjKl%3D", ["AbCdEf%2BGhIjKl"], ["https://store.blob/c/f.txt", "sv=2024-01-01"] },
        { "https://admin:pa55word@host.example/path", ["pa55word"], ["host.example/path"] },
        { "callback https://app/cb?code=0.AXcAab12&state=xyz", ["0.AXcAab12"], ["state=xyz"] },
        { "key: ZXhhbXBsZWFwaWtleWV4YW1wbGVhcGlrZXkxMjM0NTY3ODkw", ["ZXhhbXBsZWFwaWtleWV4YW1wbGVhcGlrZXkxMjM0NTY3ODkw"], [] },
        { "opaque 8f14e45fceea167a5a36dedd4bea2543aa12bb34cc56dd78 leaked", ["8f14e45fceea167a5a36dedd4bea2543aa12bb34cc56dd78"], ["opaque", "leaked"] },
        { "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----", ["MIIEpAIBAAKCAQEA7"], [] },
        { "<html><head><script>var t='" + Jwt + "';</script></head><body><h1>502 Bad Gateway</h1></body></html>", [Jwt, "<script", "<h1>", "var t"], ["502 Bad Gateway"] },
        { "<img src=x onerror=alert(1)>Graph error", ["<img", "onerror"], ["Graph error"] },
        { "line1\u0000\u0007\u001b[31mred\u001b[0m", ["\u0000", "\u0007", "\u001b"], ["line1", "red"] },
        { "safe\u202Egnp.exe", ["\u202E"], ["safe"] },
        { "cookie: .AspNetCore.Cookies=CfDJ8ABCDEF", ["CfDJ8ABCDEF"], ["cookie"] },
        { "x-ms-client-request-id: 7; proxy-authorization: Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnagMDAu", ["YIIGhgYGKwYBBQUCoIIGejCCBnagMDAu"], ["x-ms-client-request-id"] },
        { "DEV-00017 did not answer (HTTP 503)", [], ["DEV-00017 did not answer (HTTP 503)"] },
        { "Graph error code: 403 Forbidden", [], ["code: 403 Forbidden"] },
        { "PATCH https://graph.example/beta/deviceManagement/configurationPolicies/7 failed", [], ["graph.example/beta/deviceManagement/configurationPolicies/7"] },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void SanitizeText_HostileInput_RemovesSecretsAndKeepsTheMessage(string input, string[] secrets, string[] kept)
    {
        var output = Sanitizer.SanitizeText(input);

        foreach (var secret in secrets)
        {
            output.Should().NotContain(secret);
        }

        foreach (var word in kept)
        {
            output.Should().Contain(word);
        }
    }

    [Fact]
    public void Corpus_HasAtLeastThirtyHostileInputs() => Corpus.Count.Should().BeGreaterThanOrEqualTo(30);

    [Fact]
    public void SanitizeText_VeryLongInput_IsBoundedWithoutSplittingASurrogatePair()
    {
        var input = new string('a', Sanitizer.MaxMessageLength - 2) + "😀😀😀" + new string('b', 5_000_000);

        var output = Sanitizer.SanitizeText(input);

        output.Length.Should().BeLessThanOrEqualTo(Sanitizer.MaxMessageLength);
        output.Should().EndWith("…");
        char.IsHighSurrogate(output[^2]).Should().BeFalse();
    }

    [Fact]
    public void SanitizeText_SecretBeyondTheBound_NeverLeaksThroughTruncation()
    {
        var input = new string('x', Sanitizer.MaxMessageLength - 20) + " password=abcdefghijklmnopqrstuvwxyz";

        Sanitizer.SanitizeText(input).Should().NotContain("abcdefghij");
    }

    [Theory]
    [InlineData("client_secret")]
    [InlineData("Password")]
    [InlineData("db_pwd")]
    [InlineData("x-api-key")]
    [InlineData("AccessToken")]
    [InlineData("sig")]
    public void SanitizeValue_SensitiveName_RedactsTheWholeValue(string key) =>
        Sanitizer.SanitizeValue(key, "perfectly ordinary looking value").Should().Be(Sanitizer.Redacted);

    [Fact]
    public void SanitizeValue_OrdinaryName_KeepsTheValue() =>
        Sanitizer.SanitizeValue("backup_id", "bk-2").Should().Be("bk-2");

    [Fact]
    public void SanitizeText_NullOrEmpty_IsEmpty()
    {
        Sanitizer.SanitizeText(null).Should().BeEmpty();
        Sanitizer.SanitizeText("").Should().BeEmpty();
    }
}
