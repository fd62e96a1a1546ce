using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.Extensions.Options;

namespace OperationsHub.Web.Features.Auth;

/// <summary>
/// A circuit's authentication state that re-asks, every <see cref="HubAuthenticationOptions.SessionRevalidationInterval"/>,
/// whether its session is still live, and turns anonymous (remembering why) the moment it is not. The layout then
/// replaces the page with "You were signed out"; actions refused for a dead session end it at once through
/// <see cref="EndAsync"/> rather than waiting for the next check.
/// </summary>
public sealed partial class RevalidatingSessionStateProvider : ServerAuthenticationStateProvider, IDisposable
{
    private readonly HubSessions _sessions;
    private readonly TimeSpan _interval;
    private readonly ILogger<RevalidatingSessionStateProvider> _logger;
    private CancellationTokenSource? _loop;
    private bool _disposed;

    public RevalidatingSessionStateProvider(
        HubSessions sessions, IOptions<HubAuthenticationOptions> options, ILogger<RevalidatingSessionStateProvider> logger)
    {
        _sessions = sessions;
        _interval = options.Value.SessionRevalidationInterval;
        _logger = logger;
        AuthenticationStateChanged += OnStateChanged;
    }

    /// <summary>Why this circuit's sign-in ended, once it has; null while signed in.</summary>
    public SessionState? Ended { get; private set; }

    /// <summary>Ends the circuit's sign-in now (an action found its session dead), unless it already ended.</summary>
    public void End(SessionState why)
    {
        if (Ended is not null || why == SessionState.Live)
        {
            return;
        }

        Ended = why;
        _loop?.Cancel();
        SetAuthenticationState(Task.FromResult(new AuthenticationState(new ClaimsPrincipal(new ClaimsIdentity()))));
    }

    /// <summary>Checks the session now and ends the circuit's sign-in if it is not live; true when it is.</summary>
    public async Task<bool> EnsureLiveAsync(CancellationToken cancellationToken)
    {
        var user = (await GetAuthenticationStateAsync()).User;
        if (user.Identity?.IsAuthenticated != true)
        {
            return false;
        }

        var state = await _sessions.CheckAsync(user, touch: true, cancellationToken);
        End(state);
        return state == SessionState.Live;
    }

    // Registered under two service types, so the scope may dispose it twice.
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        AuthenticationStateChanged -= OnStateChanged;
        _loop?.Cancel();
        _loop?.Dispose();
    }

    private void OnStateChanged(Task<AuthenticationState> task)
    {
        if (_disposed)
        {
            return;
        }

        _loop?.Cancel();
        _loop?.Dispose();
        _loop = new CancellationTokenSource();
        _ = RevalidateLoopAsync(task, _loop.Token);
    }

    private async Task RevalidateLoopAsync(Task<AuthenticationState> task, CancellationToken cancellationToken)
    {
        try
        {
            var user = (await task).User;
            if (user.Identity?.IsAuthenticated != true)
            {
                return;
            }

            using var timer = new PeriodicTimer(_interval);
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                SessionState state;
                try
                {
                    // An open page is a user at work: it keeps the session from going idle (never past its absolute limit).
                    state = await _sessions.CheckAsync(user, touch: true, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The database could not answer this time; keep the page and ask again next tick.
                    LogCheckFailed(_logger, ex);
                    continue;
                }

                if (state != SessionState.Live)
                {
                    End(state);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Could not revalidate a circuit's session; will retry")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}
