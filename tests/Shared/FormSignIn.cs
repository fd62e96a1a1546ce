using System.Text.RegularExpressions;

namespace OperationsHub.Testing;

/// <summary>Signs in through the real local sign-in form: fetch it, take its antiforgery token, post the credentials.</summary>
internal static partial class FormSignIn
{
    public static async Task<HttpResponseMessage> SignInAsync(
        HttpClient client, string email, string password, string returnUrl, CancellationToken cancellationToken)
    {
        var loginUrl = $"/account/login?returnUrl={Uri.EscapeDataString(returnUrl)}";
        var token = await AntiforgeryTokenFromAsync(client, loginUrl, cancellationToken);
        return await client.PostAsync(loginUrl, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token,
            ["_handler"] = "login",
            ["Input.Email"] = email,
            ["Input.Password"] = password,
        }), cancellationToken);
    }

    public static async Task<string> AntiforgeryTokenFromAsync(HttpClient client, string url, CancellationToken cancellationToken)
    {
        var html = await client.GetStringAsync(url, cancellationToken);
        return TokenPattern().Match(html).Groups[1].Value;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();
}
