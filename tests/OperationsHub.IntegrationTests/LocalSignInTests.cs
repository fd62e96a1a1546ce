using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>The real sign-in form: antiforgery, password hash, cookie, lockout, local-only return URLs, sign-out.</summary>
public sealed class LocalSignInTests : IAsyncLifetime
{
    private const string Password = "Correct-horse-42";
    private readonly HubAppFactory _app = new();
    private string _email = "";

    public async ValueTask InitializeAsync()
    {
        await _app.InitializeWorldAsync();
        _email = await _app.SetLocalPasswordAsync(_app.World.AlphaOwner, Password);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task SignIn_WithCorrectPassword_SetsCookieAndRedirectsToTheLocalReturnUrl()
    {
        using var browser = new CookieBrowser(_app);

        using var response = await browser.SignInAsync(_email, Password, "/admin/t/alpha/operations");

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        response.Headers.Location!.ToString().Should().EndWith("/admin/t/alpha/operations");
        using var page = await browser.GetAsync("/admin/t/alpha/operations");
        page.StatusCode.Should().Be(HttpStatusCode.OK);
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("opshub.auth=", StringComparison.Ordinal));
        cookie.Should().Contain("httponly").And.Contain("samesite=lax");
    }

    [Theory]
    [InlineData("//evil.example/phish")]
    [InlineData("https://evil.example/")]
    [InlineData("/\\evil.example")]
    [InlineData("javascript:alert(1)")]
    public async Task SignIn_WithForeignReturnUrl_GoesHomeInstead(string returnUrl)
    {
        using var browser = new CookieBrowser(_app);

        using var response = await browser.SignInAsync(_email, Password, returnUrl);

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        var location = response.Headers.Location!;
        (location.IsAbsoluteUri ? location.AbsolutePath : location.OriginalString).Should().Be("/");
        if (location.IsAbsoluteUri)
        {
            location.Host.Should().Be("localhost");
        }
    }

    [Fact]
    public async Task SignIn_WithWrongPassword_SaysSoWithoutSayingWhichPartWasWrong()
    {
        using var browser = new CookieBrowser(_app);

        using var wrongPassword = await browser.SignInAsync(_email, "nope", "/");
        using var unknownUser = await browser.SignInAsync("nobody@test", "nope", "/");

        wrongPassword.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        unknownUser.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var a = await wrongPassword.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var b = await unknownUser.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        a.Should().Contain("The email or password is incorrect.");
        b.Should().Contain("The email or password is incorrect.");
        wrongPassword.Headers.TryGetValues("Set-Cookie", out var cookies);
        (cookies ?? []).Should().NotContain(c => c.StartsWith("opshub.auth=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SignIn_AfterFiveFailures_LocksTheAccountEvenForTheRightPassword()
    {
        using var browser = new CookieBrowser(_app);
        for (var i = 0; i < 4; i++)
        {
            (await browser.SignInAsync(_email, "wrong", "/")).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        }

        using var fifth = await browser.SignInAsync(_email, "wrong", "/");
        using var correct = await browser.SignInAsync(_email, Password, "/");

        fifth.StatusCode.Should().Be((HttpStatusCode)429);
        correct.StatusCode.Should().Be((HttpStatusCode)429);
        (await correct.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).Should().Contain("locked");
    }

    [Fact]
    public async Task SignIn_UnknownEmail_AnswersExactlyLikeARealAccount_IncorrectThenLocked()
    {
        // The same five attempts against a real account and an email nobody has: the answers must not tell them apart.
        async Task<List<(HttpStatusCode Status, string Message)>> FiveAndOneMoreAsync(string email)
        {
            using var browser = new CookieBrowser(_app);
            var answers = new List<(HttpStatusCode, string)>();
            for (var i = 0; i < 6; i++)
            {
                using var response = await browser.SignInAsync(email, "wrong", "/");
                var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
                answers.Add((response.StatusCode, body.Contains("locked", StringComparison.OrdinalIgnoreCase) ? "locked" : "incorrect"));
            }

            return answers;
        }

        var real = await FiveAndOneMoreAsync(_email);
        var unknown = await FiveAndOneMoreAsync("nobody-here@contoso.test");

        unknown.Should().Equal(real);
        unknown.Select(a => a.Status).Should().Equal(
            HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest,
            (HttpStatusCode)429, (HttpStatusCode)429);
    }

    [Fact]
    public async Task SignIn_WithoutAntiforgeryToken_IsRejected()
    {
        using var client = _app.CreateClientFor(null);
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "login",
            ["Input.Email"] = _email,
            ["Input.Password"] = Password,
        });

        using var response = await client.PostAsync("/account/login", form, TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Headers.TryGetValues("Set-Cookie", out var cookies);
        (cookies ?? []).Should().NotContain(c => c.StartsWith("opshub.auth=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SignOut_ClearsTheCookie_AndRequiresAnAntiforgeryToken()
    {
        using var browser = new CookieBrowser(_app);
        (await browser.SignInAsync(_email, Password, "/")).StatusCode.Should().Be(HttpStatusCode.Redirect);

        using var forged = await browser.PostAsync("/account/logout", []);
        forged.StatusCode.Should().Be(HttpStatusCode.BadRequest, "a cross-site POST has no token");
        (await browser.GetAsync("/admin/t/alpha/operations")).StatusCode.Should().Be(HttpStatusCode.OK);

        // The sign-out form lives in the account menu, rendered when it opens; any form of this site carries a token for this user.
        var token = await browser.AntiforgeryTokenFromAsync("/account/login");
        using var signOut = await browser.PostAsync("/account/logout", new() { ["__RequestVerificationToken"] = token });
        signOut.StatusCode.Should().Be(HttpStatusCode.Redirect);
        (await browser.GetAsync("/admin/t/alpha/operations")).StatusCode.Should().Be(HttpStatusCode.Redirect);
    }

    [Fact]
    public async Task SignOut_EndsTheSessionOnTheServer_SoACopyOfTheCookieStopsWorkingForPagesAndTheApi()
    {
        using var browser = new CookieBrowser(_app);
        using var signIn = await browser.SignInAsync(_email, Password, "/");
        var copied = AuthCookie(signIn);
        using var thief = _app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions
        {
            AllowAutoRedirect = false,
            HandleCookies = false,
        });
        (await GetWithCookieAsync(thief, "/admin/t/alpha/operations", copied)).StatusCode.Should().Be(HttpStatusCode.OK, "the copy works while the session lives");
        // The API never takes the cookie, live or not (a browser sends it on its own, so another site could drive the API).
        using (var live = await GetWithCookieAsync(thief, $"/api/t/alpha/operations/{_app.World.AlphaRunId}", copied))
        {
            live.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
            (await live.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).Should().Contain("does not take the browser's sign-in cookie");
        }

        var token = await browser.AntiforgeryTokenFromAsync("/account/login");
        (await browser.PostAsync("/account/logout", new() { ["__RequestVerificationToken"] = token })).StatusCode.Should().Be(HttpStatusCode.Redirect);

        using var page = await GetWithCookieAsync(thief, "/admin/t/alpha/operations", copied);
        page.StatusCode.Should().Be(HttpStatusCode.Redirect);
        page.Headers.Location!.OriginalString.Should().StartWith("/account/login");
        using var api = await GetWithCookieAsync(thief, $"/api/t/alpha/operations/{_app.World.AlphaRunId}", copied);
        api.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        api.Headers.WwwAuthenticate.Should().ContainSingle().Which.Scheme.Should().Be("Bearer");
        api.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        // Nor does the copy renew itself by sliding expiry: the only cookie it gets back is the one that deletes it.
        foreach (var response in new[] { page, api })
        {
            response.Headers.TryGetValues("Set-Cookie", out var cookies);
            (cookies ?? []).Where(c => c.StartsWith("opshub.auth=", StringComparison.Ordinal))
                .Should().OnlyContain(c => c.StartsWith("opshub.auth=;", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Lockout_EndsTheAccountsOpenSessions()
    {
        using var signedIn = new CookieBrowser(_app);
        (await signedIn.SignInAsync(_email, Password, "/")).StatusCode.Should().Be(HttpStatusCode.Redirect);
        (await signedIn.GetAsync("/admin/t/alpha/operations")).StatusCode.Should().Be(HttpStatusCode.OK);

        using var attacker = new CookieBrowser(_app);
        for (var i = 0; i < 5; i++)
        {
            using var _ = await attacker.SignInAsync(_email, "wrong", "/");
        }

        using var after = await signedIn.GetAsync("/admin/t/alpha/operations");
        after.StatusCode.Should().Be(HttpStatusCode.Redirect, "a locked account has no power anywhere");
        await using var db = await _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        (await db.Sessions.Where(s => s.UserId == _app.World.AlphaOwner.Id).Select(s => s.EndReason).ToListAsync(TestContext.Current.CancellationToken))
            .Should().HaveCount(2, "the form's session and the test header's").And.OnlyContain(r => r == SessionEndReason.LockedOut);
    }

    private static string AuthCookie(HttpResponseMessage response) =>
        response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("opshub.auth=", StringComparison.Ordinal)).Split(';')[0];

    private static async Task<HttpResponseMessage> GetWithCookieAsync(HttpClient client, string url, string cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add("Cookie", cookie);
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    /// <summary>A cookie-keeping client that fills in the antiforgery token the way a browser's form would.</summary>
    private sealed class CookieBrowser(HubAppFactory app) : IDisposable
    {
        private readonly HttpClient _client = app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions
        {
            AllowAutoRedirect = false,
            HandleCookies = true,
        });

        public Task<HttpResponseMessage> SignInAsync(string email, string password, string returnUrl) =>
            FormSignIn.SignInAsync(_client, email, password, returnUrl, TestContext.Current.CancellationToken);

        public Task<string> AntiforgeryTokenFromAsync(string url) =>
            FormSignIn.AntiforgeryTokenFromAsync(_client, url, TestContext.Current.CancellationToken);

        public Task<HttpResponseMessage> GetAsync(string url) => _client.GetAsync(url, TestContext.Current.CancellationToken);

        public Task<HttpResponseMessage> PostAsync(string url, Dictionary<string, string> form) =>
            _client.PostAsync(url, new FormUrlEncodedContent(form), TestContext.Current.CancellationToken);

        public void Dispose() => _client.Dispose();

    }
}
