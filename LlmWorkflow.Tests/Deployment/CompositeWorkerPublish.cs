using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// The Worker's Release publish as its image ships it (ContainerImage.props: self-contained, one composite ReadyToRun
/// image of the app and the frameworks), made once per test run for <see cref="PublishedWorkerTests"/>. The composite
/// takes minutes of CPU on two cores, so it starts when the run begins (<see cref="LongestFirstCollectionOrderer"/>
/// starts it when the run includes its test) at the lowest priority (below the other tests' builds, which then go
/// first), on a thread of its own, and its test runs after the
/// parallel classes (<see cref="WaitsForTheCompositePublish"/>): the compile uses the CPU the other classes leave,
/// instead of a test slot waiting minutes for it. It builds a copy of the sources in a
/// temporary folder, with its own obj and bin, so it shares no output with the publishes, packs and builds that run
/// beside it (<see cref="PublishesApiAndWorker"/>), and restores for linux-x64 as `dotnet publish` does.
/// </summary>
public static class CompositeWorkerPublish
{
    private const string App = "LlmWorkflow.Worker";

    // A thread of its own, not a pool work item: the sources are copied synchronously, and the orderer that starts it
    // runs on the thread whose queue then receives every collection's start, in the order the orderer gave them.
    private static readonly Lazy<Task<string>> Publish = new(() =>
        Task.Factory.StartNew(PublishAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap());

    /// <summary>Starts the publish if it has not started (the orderer calls it when the run begins).</summary>
    public static void Start() => _ = Publish.Value;

    /// <summary>The publish output folder, once the publish has finished; the caller deletes it.</summary>
    public static Task<string> OutputAsync() => Publish.Value;

    private static async Task<string> PublishAsync()
    {
        var sources = Directory.CreateTempSubdirectory("llmwf-composite-src-").FullName;
        var output = Directory.CreateTempSubdirectory($"llmwf-publish-{App}-").FullName;
        try
        {
            CopySources(sources);
            await ExternalCommand.RunBuildAsync(
                ["publish", Path.Combine(sources, App, App + ".csproj"), "-c", "Release", "-o", output], TimeSpan.FromMinutes(25), workingDirectory: sources,
                niceness: 19);
            return output;
        }
        catch
        {
            Directory.Delete(output, recursive: true);
            throw;
        }
        finally
        {
            Directory.Delete(sources, recursive: true);
        }
    }

    private static void CopySources(string destination)
    {
        foreach (var file in Directory.GetFiles(RepositoryPaths.Root))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }

        // What a Worker image builds from: the Worker, the projects it references, the shared props and the workflows folder.
        foreach (var folder in ProjectFolders(App).Append("workflows"))
        {
            CopyFolder(Path.Combine(RepositoryPaths.Root, folder), Path.Combine(destination, folder));
        }
    }

    /// <summary><paramref name="project"/>'s folder and those of every project it references, read from the project files.</summary>
    private static IEnumerable<string> ProjectFolders(string project)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var name))
        {
            if (!found.Add(name))
            {
                continue;
            }

            var file = System.Xml.Linq.XDocument.Load(Path.Combine(RepositoryPaths.Root, name, name + ".csproj"));
            foreach (var reference in file.Descendants("ProjectReference"))
            {
                pending.Push(Path.GetFileNameWithoutExtension(reference.Attribute("Include")!.Value.Replace('\\', '/')));
            }
        }

        return found;
    }

    /// <summary>Copies a source folder without its build output (bin, obj) or installed packages.</summary>
    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var folder in Directory.GetDirectories(from))
        {
            if (Path.GetFileName(folder) is not ("bin" or "obj" or "node_modules"))
            {
                CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)));
            }
        }
    }
}

/// <summary>
/// The collection of <see cref="PublishedWorkerTests"/>: it runs after the parallel classes, first of those that run
/// alone (<see cref="LongestFirstCollectionOrderer"/>), so it holds no parallel test slot while the publish begun with
/// the run finishes, and that publish is done before the time-bound classes (<see cref="TimeBoundTests"/>) start.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WaitsForTheCompositePublish
{
    public const string Name = "waits for the composite Worker publish (runs alone)";
}
