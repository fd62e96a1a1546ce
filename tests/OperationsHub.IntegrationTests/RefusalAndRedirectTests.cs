using System.Net;
using System.Net.Http.Json;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>What an attacker's curl gets: redirects that stay on this site, and refusals that explain themselves.</summary>
public sealed class RefusalAndRedirectTests : IAsyncLifetime
{
    private readonly HubAppFactory _app = new();

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task SignInRedirect_WithAForgedHostHeader_StaysOnThisSite()
    {
        using var client = _app.CreateClientFor(null);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/admin/t/alpha/operations");
        request.Headers.Host = "evil.example";

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        var location = response.Headers.Location!.OriginalString;
        location.Should().StartWith("/account/login?returnUrl=", "a relative redirect cannot name another host");
        location.Should().NotContain("evil.example");
    }

    [Fact]
    public async Task SignIn_WithAForgedHost_RedirectsToAPath_NotToThatHost()
    {
        var ct = TestContext.Current.CancellationToken;
        var email = await _app.SetLocalPasswordAsync(_app.World.AlphaOwner, "Correct-horse-42");

        using var client = _app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Host = "evil.example";
        using var response = await FormSignIn.SignInAsync(client, email, "Correct-horse-42", "/admin/t/alpha/operations", ct);

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        response.Headers.Location!.OriginalString.Should().Be("/admin/t/alpha/operations", "the form's redirect names no host, least of all a forged one");
    }

    [Fact]
    public async Task AnonymousApiCall_Gets401_WithProblemDetails()
    {
        using var client = _app.CreateClientFor(null);

        using var response = await client.GetAsync("/api/t/alpha/operations/1", TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<Microsoft.AspNetCore.Mvc.ProblemDetails>(TestContext.Current.CancellationToken);
        problem!.Status.Should().Be(401);
        problem.Title.Should().Be("An API token is required.");
        response.Headers.WwwAuthenticate.Should().ContainSingle().Which.ToString().Should().Be("Bearer realm=\"OperationsHub\"");
    }
}
