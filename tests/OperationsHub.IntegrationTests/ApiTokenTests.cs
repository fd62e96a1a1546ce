using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.IntegrationTests.Infrastructure;
using OperationsHub.Web.Features.ApiTokens;
using OperationsHub.Web.Features.Operations;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// Hub API tokens, every rule: created by Managers and Owners with at most their role, stored as a hash, scoped to one
/// tenant, refused once revoked or expired or when the creator left, last use recorded, creating and revoking audited,
/// and runs started with one named after it with the creator notified.
/// </summary>
public abstract class ApiTokenTests(TestProvider provider) : IAsyncLifetime
{
    private readonly HubAppFactory _app = new(provider);

    private TestWorld World => _app.World;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private ApiTokenCommands Commands => _app.Services.GetRequiredService<ApiTokenCommands>();

    [Fact]
    public async Task ACreatedToken_IsShownOnce_StoredAsAHashWithAPrefix_AndStartsRunsNamedAfterIt_NotifyingItsCreator()
    {
        var owner = await _app.SignInAsync(World.AlphaOwner);
        var created = await Commands.CreateAsync(owner, TestWorld.Alpha, "  ci-pipeline ", TenantRole.Operator, 90, Ct);

        created.Status.Should().Be(CommandStatus.Ok, created.Message);
        var secret = created.Value!.Secret;
        secret.Should().StartWith("opshub_").And.HaveLength(ApiTokenSecrets.Length);
        created.Value.Token.Name.Should().Be("ci-pipeline");
        created.Value.Token.ExpiresAt.Should().BeCloseTo(DateTime.UtcNow.AddDays(90), TimeSpan.FromMinutes(1));
        await using (var db = await DbAsync())
        {
            var row = await db.ApiTokens.AsNoTracking().SingleAsync(t => t.Name == "ci-pipeline", Ct);
            row.SecretHash.Should().Be(ApiTokenSecrets.Hash(secret)).And.NotContain(secret[ApiTokenSecrets.HintLength..]);
            row.Hint.Should().Be(secret[..ApiTokenSecrets.HintLength]);
            // Nothing the database holds is the token: no column of the row contains its secret part.
            JsonSerializer.Serialize(row).Should().NotContain(secret[ApiTokenSecrets.HintLength..]);
            row.LastUsedAt.Should().BeNull();
        }

        using var client = _app.CreateApiClient(secret);
        using var started = await client.PostAsJsonAsync("/api/t/alpha/operations", new { type = "policy_sync", target = "Token run" }, Ct);

        started.StatusCode.Should().Be(HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync(Ct));
        var id = (await Json(started)).GetProperty("id").GetInt64();
        (await Json(started)).GetProperty("initiator").GetString().Should().Be($"API token 'ci-pipeline' of {World.AlphaOwner.Name}");
        await using (var db = await DbAsync())
        {
            var run = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == id, Ct);
            run.InitiatorUserId.Should().Be(World.AlphaOwner.Id, "the token's creator is who the run's notifications reach");
            run.InitiatorName.Should().Be($"API token 'ci-pipeline' of {World.AlphaOwner.Name}");
            (await db.Notifications.AsNoTracking().Where(n => n.RunId == id).Select(n => n.UserId).ToListAsync(Ct))
                .Should().Equal(World.AlphaOwner.Id);
        }

        // Last use is written off the request path, by the housekeeping's next flush.
        await _app.Services.GetRequiredService<ApiTokenUsage>().FlushAsync(Ct);
        (await Commands.ListAsync(World.AlphaTenantId, Ct)).Single(t => t.Name == "ci-pipeline").LastUsedAt
            .Should().NotBeNull().And.BeCloseTo(DateTime.UtcNow, TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task OnlyManagersAndOwnersCreate_WithAtMostTheirOwnRole_ARequiredExpiry_AndAUniqueName()
    {
        var manager = await _app.SignInAsync(World.BothTenants); // Manager of alpha, Readonly of beta
        var operatorUser = await _app.SignInAsync(World.AlphaOperator);

        (await Commands.CreateAsync(operatorUser, TestWorld.Alpha, "x", TenantRole.Readonly, 30, Ct)).Status.Should().Be(CommandStatus.Forbidden);
        (await Commands.CreateAsync(manager, TestWorld.Beta, "x", TenantRole.Readonly, 30, Ct)).Status.Should().Be(CommandStatus.Forbidden);
        (await Commands.CreateAsync(manager, "gamma", "x", TenantRole.Readonly, 30, Ct)).Status.Should().Be(CommandStatus.NotFound);
        var tooHigh = await Commands.CreateAsync(manager, TestWorld.Alpha, "x", TenantRole.Owner, 30, Ct);
        (tooHigh.Status, tooHigh.Field).Should().Be((CommandStatus.Invalid, "role"));
        (await Commands.CreateAsync(manager, TestWorld.Alpha, "x", TenantRole.Manager, 0, Ct)).Field.Should().Be("expiry");
        (await Commands.CreateAsync(manager, TestWorld.Alpha, "x", TenantRole.Manager, ApiTokenCommands.MaxLifetimeDays + 1, Ct)).Field.Should().Be("expiry");
        (await Commands.CreateAsync(manager, TestWorld.Alpha, "   ", TenantRole.Manager, 30, Ct)).Field.Should().Be("name");
        (await Commands.CreateAsync(manager, TestWorld.Alpha, new string('n', ApiToken.MaxNameLength + 1), TenantRole.Manager, 30, Ct)).Field.Should().Be("name");

        (await Commands.CreateAsync(manager, TestWorld.Alpha, "deploy", TenantRole.Manager, 30, Ct)).Status.Should().Be(CommandStatus.Ok);
        var again = await Commands.CreateAsync(manager, TestWorld.Alpha, "deploy", TenantRole.Readonly, 30, Ct);
        (again.Status, again.Field).Should().Be((CommandStatus.Invalid, "name"));
        await using var db = await DbAsync();
        (await db.ApiTokens.CountAsync(t => t.Name == "deploy", Ct)).Should().Be(1);
        (await db.ApiTokens.CountAsync(t => t.Name == "x", Ct)).Should().Be(0, "nothing refused was stored");
    }

    [Fact]
    public async Task ATokenIsScopedToItsTenant_AndActsWithItsRole_CappedByItsCreatorsRoleNow()
    {
        // Bo is a Manager of alpha and Readonly of beta: his alpha token is refused on beta all the same.
        var alphaToken = await _app.IssueApiTokenAsync(World.BothTenants, TestWorld.Alpha, TenantRole.Manager);
        using var alpha = _app.CreateApiClient(alphaToken);
        (await alpha.GetAsync($"/api/t/beta/operations/{World.BetaRunId}", Ct)).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await alpha.GetAsync("/api/t/beta/operations", Ct)).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await alpha.GetAsync($"/api/t/alpha/operations/{World.AlphaRunId}", Ct)).StatusCode.Should().Be(HttpStatusCode.OK);

        // A Readonly token starts nothing, whoever made it.
        var readonlyToken = await _app.IssueApiTokenAsync(World.AlphaOwner, TestWorld.Alpha, TenantRole.Readonly);
        using var reader = _app.CreateApiClient(readonlyToken);
        (await reader.PostAsJsonAsync("/api/t/alpha/operations", new { type = "policy_sync" }, Ct)).StatusCode.Should().Be(HttpStatusCode.Forbidden);

        // Demote the creator to Readonly: the Manager token can no longer start runs; remove them, and it is refused.
        await using (var db = await DbAsync())
        {
            await db.Memberships.Where(m => m.TenantId == World.AlphaTenantId && m.UserId == World.BothTenants.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.Role, TenantRole.Readonly), Ct);
        }

        (await alpha.PostAsJsonAsync("/api/t/alpha/operations", new { type = "policy_sync" }, Ct)).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        await using (var db = await DbAsync())
        {
            await db.Memberships.Where(m => m.TenantId == World.AlphaTenantId && m.UserId == World.BothTenants.Id).ExecuteDeleteAsync(Ct);
        }

        using var gone = await alpha.GetAsync($"/api/t/alpha/operations/{World.AlphaRunId}", Ct);
        gone.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await gone.Content.ReadAsStringAsync(Ct)).Should().Contain("no longer has a role");
    }

    [Fact]
    public async Task ARevokedToken_Is401AtOnce_AnExpiredOne_Is401_AndMalformedOrUnknownOnesToo_AllAsProblemDetails()
    {
        var owner = await _app.SignInAsync(World.AlphaOwner);
        var created = await Commands.CreateAsync(owner, TestWorld.Alpha, "to-revoke", TenantRole.Operator, 30, Ct);
        using var client = _app.CreateApiClient(created.Value!.Secret);
        (await client.GetAsync("/api/t/alpha/operations", Ct)).StatusCode.Should().Be(HttpStatusCode.OK);

        var readonlyUser = await _app.SignInAsync(World.AlphaReadonly);
        (await Commands.RevokeAsync(readonlyUser, TestWorld.Alpha, created.Value.Token.Id, Ct)).Status.Should().Be(CommandStatus.Forbidden);
        (await Commands.RevokeAsync(owner, TestWorld.Beta, created.Value.Token.Id, Ct)).Status.Should().Be(CommandStatus.Forbidden);
        (await Commands.RevokeAsync(owner, TestWorld.Alpha, created.Value.Token.Id, Ct)).Status.Should().Be(CommandStatus.Ok);

        await RefusedAsync(client, "was revoked");
        var expired = await _app.IssueApiTokenAsync(World.AlphaOwner, TestWorld.Alpha, TenantRole.Operator, DateTime.UtcNow.AddSeconds(-1));
        await RefusedAsync(_app.CreateApiClient(expired), "expired");
        await RefusedAsync(_app.CreateApiClient(ApiTokenSecrets.Generate()), "not known");
        await RefusedAsync(_app.CreateApiClient("opshub_short"), "not a hub API token");
        await RefusedAsync(_app.CreateApiClient("not-a-token"), "not a hub API token");
        // A JWT (an Entra ID access token, say) in local sign-in mode: refused with why, not passed on to nobody.
        await RefusedAsync(_app.CreateApiClient("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"), "only in Entra ID sign-in mode");

        // Creating and revoking are in the tenant's audit trail, newest first, by name.
        var audit = await Commands.AuditAsync(World.AlphaTenantId, 10, Ct);
        audit.Select(a => (a.Action, a.ActorName)).Should().Equal(
            (AuditActions.ApiTokenRevoked, World.AlphaOwner.Name),
            (AuditActions.ApiTokenCreated, World.AlphaOwner.Name));
        audit[0].Detail.Should().Be("Revoked API token 'to-revoke' (Operator).");
        audit[1].Detail.Should().StartWith("Created API token 'to-revoke' (Operator, expires ");
        (await Commands.AuditAsync(World.BetaTenantId, 10, Ct)).Should().BeEmpty("another tenant's trail is its own");
    }

    [Fact]
    public async Task TheBrowsersCookie_IsNeverTakenByTheApi_AndATokenNeverOpensAPage()
    {
        // The sign-in header of the test host stands for a signed-in browser: the pages take it, the API does not.
        using var browser = _app.CreateClientFor(World.AlphaOwner);
        (await browser.GetAsync("/admin/t/alpha/operations", Ct)).StatusCode.Should().Be(HttpStatusCode.OK);
        using var api = await browser.GetAsync("/api/t/alpha/operations", Ct);
        api.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        api.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");

        using var token = _app.CreateApiClientFor(World.AlphaOwner);
        using var page = await token.GetAsync("/admin/t/alpha/operations", Ct);
        page.StatusCode.Should().Be(HttpStatusCode.Redirect, "pages take the sign-in cookie only");
        page.Headers.Location!.OriginalString.Should().StartWith("/account/login");
    }

    private static async Task RefusedAsync(HttpClient client, string detail)
    {
        using (client)
        {
            using var response = await client.GetAsync("/api/t/alpha/operations", Ct);
            response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
            response.Headers.WwwAuthenticate.Should().ContainSingle().Which.Scheme.Should().Be("Bearer");
            response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            (await Json(response)).GetProperty("detail").GetString().Should().Contain(detail);
        }
    }

    private Task<HubDbContext> DbAsync() => _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(Ct);

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();
}

public sealed class ApiTokenTestsOnSqlite() : ApiTokenTests(TestProvider.Sqlite);

public sealed class ApiTokenTestsOnPostgreSql() : ApiTokenTests(TestProvider.PostgreSql);
