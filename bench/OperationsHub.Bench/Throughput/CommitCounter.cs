using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OperationsHub.Bench.Throughput;

/// <summary>
/// Counts every transaction committed by any SQLite connection in this process, whichever library opened it
/// (Microsoft.Data.Sqlite for the hub, Quartz and the floor; sqlite-net for Hangfire's storage). SQLite's
/// <c>sqlite3_auto_extension</c> runs our entry point on each new connection, which installs a commit hook that
/// only increments a counter. All contestants share the one native library, so they are counted the same way.
/// </summary>
internal static unsafe partial class CommitCounter
{
    private const string Library = "e_sqlite3";
    private static long s_commits;
    private static bool s_installed;

    public static long Commits => Interlocked.Read(ref s_commits);

    /// <summary>Installs the hook for connections opened from now on. Call before any contestant opens one.</summary>
    public static void Install()
    {
        if (s_installed)
        {
            return;
        }

        var rc = sqlite3_auto_extension((IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, int>)&OnConnectionOpened);
        if (rc != 0)
        {
            throw new InvalidOperationException($"sqlite3_auto_extension failed: {rc}");
        }

        s_installed = true;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnConnectionOpened(IntPtr db, IntPtr errorMessage, IntPtr api)
    {
        sqlite3_commit_hook(db, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&OnCommit, IntPtr.Zero);
        return 0;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnCommit(IntPtr state)
    {
        Interlocked.Increment(ref s_commits);
        return 0; // 0 lets the commit proceed
    }

    [LibraryImport(Library)]
    private static partial int sqlite3_auto_extension(IntPtr entryPoint);

    [LibraryImport(Library)]
    private static partial IntPtr sqlite3_commit_hook(IntPtr db, IntPtr callback, IntPtr state);
}
