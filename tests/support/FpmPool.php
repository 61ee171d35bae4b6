<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * A real PHP-FPM (the php-fpm of the PHP running the tests) with a pool of its own on a free
 * 127.0.0.1 port, configured from scratch in a temp directory: no system
 * php.ini, no conf.d scan, and the extension under test loaded by the php.ini
 * `extension=` line, so the master has it loaded before it forks its workers,
 * the way a production install loads it.
 *
 * Requests go through libfcgi's cgi-fcgi, a FastCGI client that shares no code
 * with PHP. Workers' stderr ends up in log() (catch_workers_output).
 */
final class FpmPool
{
    private const CGI_FCGI = '/usr/bin/cgi-fcgi';
    private const READY_TIMEOUT = 15.0;
    private const READY_LINE = '/NOTICE: .*ready to handle connections/';

    private const DEFAULTS = [
        // pm = static: exactly this many workers, forked at start.
        'children' => 2,
        // Requests a worker serves before it is recycled; 0 = never.
        'max_requests' => 0,
        // Seconds the master waits after SIGQUIT (stop, reload) before it escalates
        // to SIGTERM, which kills a worker on the spot. FPM's default is 0: escalate
        // at once. A worker flushing at exit needs flush_timeout seconds here.
        'process_control_timeout' => 20,
        // FPM logs how workers ended (exit code or signal) during a stop or reload only at debug level.
        'log_level' => 'debug',
        // Load OPcache as Debian's FPM does (tests leave it out, the bench turns it on).
        'opcache' => false,
        // Extra php.ini settings, name => value.
        'ini' => [],
        // The extension under test.
        'extension' => null,
        // Seconds a request may take before the test fails (a hung request is a bug).
        'request_timeout' => 20.0,
    ];

    private ?BackgroundProcess $process = null;
    private int $masterPid = 0;
    private int $requests = 0;

    /** @var list<\WeakReference<self>> */
    private static array $started = [];

    /** @param array<string,mixed> $options */
    private function __construct(
        private readonly int $port,
        private readonly string $dir,
        private readonly array $options
    ) {
    }

    /**
     * Starts the pool and returns once it accepts connections and all its workers are forked.
     *
     * @param array{children?:int,max_requests?:int,process_control_timeout?:int,log_level?:string,opcache?:bool,ini?:array<string,scalar>,extension?:string|null,request_timeout?:float} $options
     */
    public static function start(array $options = []): self
    {
        $unknown = array_diff_key($options, self::DEFAULTS);
        if ($unknown !== []) {
            throw new \InvalidArgumentException('unknown FpmPool option(s): ' . implode(', ', array_keys($unknown)));
        }
        $options = array_replace(self::DEFAULTS, $options);
        $options['extension'] ??= PhpScript::extensionPath();
        if (!is_file($options['extension'])) {
            throw new \InvalidArgumentException("extension {$options['extension']} does not exist: build it first (cargo build --release)");
        }

        $dir = sys_get_temp_dir() . '/mqtt-broadcast-fpm-' . bin2hex(random_bytes(6));
        if (!mkdir($dir, 0700)) {
            throw new \RuntimeException("cannot create $dir");
        }
        $pool = new self(Broker::freePort(), $dir, $options);
        self::killAllAtExit($pool);
        $pool->writeConfig();
        $pool->launch();
        return $pool;
    }

    public function port(): int
    {
        return $this->port;
    }

    public function dir(): string
    {
        return $this->dir;
    }

    public function isRunning(): bool
    {
        return $this->process !== null && $this->process->isRunning();
    }

    /** The master's pid (it stays the same across a reload: the master re-executes itself). */
    public function masterPid(): int
    {
        return $this->masterPid;
    }

    /** @return list<int> pids of the master's children, sorted */
    public function workerPids(): array
    {
        return $this->isRunning() ? self::childrenOf($this->masterPid) : [];
    }

    /** FPM's error log: master notices, worker exits, and whatever workers wrote to stderr. */
    public function log(): string
    {
        return (string) @file_get_contents($this->dir . '/php-fpm.log');
    }

    /**
     * One GET request through cgi-fcgi; returns the response body without headers.
     * Fails the test on anything but a clean 200 with nothing on FastCGI stderr.
     *
     * @param string $script a file under tests/fpm/, or an absolute path
     * @param array<string,scalar> $query
     */
    public function request(string $script, array $query = []): string
    {
        return $this->requests([[$script, $query]])[0];
    }

    /**
     * Several requests sent at once (each on its own FastCGI connection), so that
     * several workers serve them; returns the bodies in the order given.
     *
     * @param list<array{0:string,1?:array<string,scalar>}> $requests
     * @return list<string>
     */
    public function requests(array $requests): array
    {
        $running = [];
        foreach ($requests as $request) {
            $running[] = $this->send($request[0], $request[1] ?? []);
        }
        $bodies = [];
        foreach ($running as $request) {
            $bodies[] = $this->receive($request);
        }
        return $bodies;
    }

    public function signal(int $signal): void
    {
        if (!$this->isRunning()) {
            Failure::raise("php-fpm is not running, cannot send signal $signal.\n" . Failure::tail($this->log()));
        }
        posix_kill($this->masterPid, $signal);
    }

    /**
     * Graceful stop: SIGQUIT, then waits for the master (and so every worker) to exit.
     * Returns the seconds it took; a pool still there after $timeout fails the test.
     */
    public function quit(float $timeout = 30.0): float
    {
        $this->signal(SIGQUIT);
        return $this->waitForExit($timeout);
    }

    /** Waits for the master to exit after a stop signal; returns the seconds waited. */
    public function waitForExit(float $timeout = 30.0): float
    {
        $start = microtime(true);
        $workers = $this->workerPids();
        if ($this->process !== null && !$this->process->wait($timeout)) {
            $stuck = $this->workerPids();
            $log = $this->log();
            $this->kill();
            Failure::raise(sprintf(
                "php-fpm (master %d, workers %s) did not stop within %.1fs and was killed.\n%s",
                $this->masterPid,
                implode(', ', $stuck),
                $timeout,
                Failure::tail($log)
            ));
        }
        $this->process = null;
        // The master reaps its workers before it exits: none may be left.
        $left = array_values(array_filter($workers, static fn (int $pid): bool => self::isAlive($pid)));
        if ($left !== []) {
            Failure::raise('php-fpm workers ' . implode(', ', $left) . " outlived their master.\n" . Failure::tail($this->log()));
        }
        return microtime(true) - $start;
    }

    /**
     * Graceful reload: SIGUSR2, then waits until a new set of workers is up.
     *
     * @return list<int> the new worker pids
     */
    public function reload(float $timeout = 30.0): array
    {
        $old = $this->workerPids();
        $readyBefore = $this->readyCount();
        $this->signal(SIGUSR2);
        return $this->waitForReload($old, $readyBefore, $timeout);
    }

    /**
     * Waits until the master logged readiness more than $readyBefore times and
     * runs a full set of workers, none of them in $oldWorkers.
     *
     * @param list<int> $oldWorkers
     * @return list<int> the new worker pids
     */
    public function waitForReload(array $oldWorkers, int $readyBefore, float $timeout = 30.0): array
    {
        $deadline = microtime(true) + $timeout;
        while (true) {
            $workers = $this->workerPids();
            if ($this->readyCount() > $readyBefore
                && count($workers) === $this->options['children']
                && array_intersect($workers, $oldWorkers) === []
            ) {
                return $workers;
            }
            if (!$this->isRunning()) {
                Failure::raise("php-fpm exited during a reload (exit code {$this->process?->exitCode()}).\n" . Failure::tail($this->log()));
            }
            if (microtime(true) >= $deadline) {
                Failure::raise(sprintf(
                    "php-fpm did not come back from a reload within %.1fs (workers before: %s, now: %s).\n%s",
                    $timeout,
                    implode(', ', $oldWorkers),
                    implode(', ', $workers),
                    Failure::tail($this->log())
                ));
            }
            usleep(20_000);
        }
    }

    /** How many times the master logged "ready to handle connections" (once per start or reload). */
    public function readyCount(): int
    {
        return preg_match_all(self::READY_LINE, $this->log());
    }

    /**
     * Waits until the pool runs a full set of workers other than $gone (after a
     * worker was recycled or killed, the master forks a replacement).
     *
     * @param list<int> $gone
     * @return list<int>
     */
    public function waitForWorkersOtherThan(array $gone, float $timeout = 20.0): array
    {
        $deadline = microtime(true) + $timeout;
        while (true) {
            $workers = $this->workerPids();
            if (count($workers) === $this->options['children'] && array_intersect($workers, $gone) === []) {
                return $workers;
            }
            if (microtime(true) >= $deadline) {
                Failure::raise(sprintf(
                    "php-fpm workers %s were not replaced within %.1fs (workers now: %s).\n%s",
                    implode(', ', $gone),
                    $timeout,
                    implode(', ', $workers),
                    Failure::tail($this->log())
                ));
            }
            usleep(20_000);
        }
    }

    /** SIGKILL to the master and its workers; for cleanup, not a graceful stop. */
    public function kill(): void
    {
        if ($this->process === null) {
            return;
        }
        $workers = $this->workerPids();
        $this->process->kill();
        foreach ($workers as $pid) {
            posix_kill($pid, SIGKILL);
        }
        $this->process = null;
    }

    public function __destruct()
    {
        $this->kill();
        TempDir::remove($this->dir);
    }

    /** @return list<int> pids whose parent is $parent, from /proc */
    public static function childrenOf(int $parent): array
    {
        $children = [];
        foreach (glob('/proc/[0-9]*/stat') ?: [] as $statFile) {
            $stat = @file_get_contents($statFile);
            if ($stat === false) {
                continue; // gone meanwhile
            }
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            $fields = explode(' ', substr($stat, strrpos($stat, ')') + 2));
            if ((int) $fields[1] === $parent && $fields[0] !== 'Z') {
                $children[] = (int) $stat;
            }
        }
        sort($children);
        return $children;
    }

    /** @return list<string> the names (comm) of the threads of $pid */
    public static function threadNames(int $pid): array
    {
        $names = [];
        foreach (glob("/proc/$pid/task/*/comm") ?: [] as $comm) {
            $name = @file_get_contents($comm);
            if ($name !== false) {
                $names[] = rtrim($name, "\n");
            }
        }
        return $names;
    }

    public static function isAlive(int $pid): bool
    {
        $stat = @file_get_contents("/proc/$pid/stat");
        return $stat !== false && substr($stat, strrpos($stat, ')') + 2, 1) !== 'Z';
    }

    /**
     * The php-fpm of the same PHP as the one running the tests, so that the extension
     * built for it loads: $MQTT_BROADCAST_PHP_FPM when set, else the php-fpm installed
     * beside this PHP (a source build: PREFIX/sbin/php-fpm), else Debian's php-fpmX.Y.
     * In that order: a PHP built from source next to Debian's of the same version
     * (a thread-safe one, say) must not get Debian's FPM.
     */
    public static function fpmBinary(): string
    {
        $candidates = [];
        $configured = getenv('MQTT_BROADCAST_PHP_FPM');
        if ($configured !== false && $configured !== '') {
            $candidates[] = $configured;
        } else {
            $candidates[] = dirname(PHP_BINDIR) . '/sbin/php-fpm';
            $candidates[] = '/usr/sbin/php-fpm' . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION;
        }
        foreach ($candidates as $candidate) {
            if (is_executable($candidate)) {
                return $candidate;
            }
        }
        throw new \RuntimeException(sprintf(
            'no php-fpm for PHP %s: looked for %s. Install PHP-FPM for this PHP (Debian: php%d.%d-fpm) or set MQTT_BROADCAST_PHP_FPM',
            PHP_VERSION,
            implode(', ', $candidates),
            PHP_MAJOR_VERSION,
            PHP_MINOR_VERSION
        ));
    }

    private function launch(): void
    {
        $env = getenv();
        // No conf.d scan: an installed copy of the extension (./build.sh install) must not load
        // next to the build under test, and the pool must not depend on the host's PHP setup.
        $env['PHP_INI_SCAN_DIR'] = '';
        $this->process = new BackgroundProcess(
            [
                self::fpmBinary(),
                '--nodaemonize',
                '--fpm-config', $this->dir . '/php-fpm.conf',
                '-c', $this->dir . '/php.ini',
                '--allow-to-run-as-root',
            ],
            $this->dir . '/master.out',
            $this->dir . '/master.err',
            $env
        );
        $this->masterPid = $this->process->pid();

        $deadline = microtime(true) + self::READY_TIMEOUT;
        while (!($this->readyCount() > 0 && count($this->workerPids()) === $this->options['children'] && $this->accepts())) {
            if (!$this->process->isRunning()) {
                Failure::raise(sprintf(
                    "php-fpm exited with code %s at start.\n--- php-fpm.log ---\n%s\n--- stderr ---\n%s",
                    var_export($this->process->exitCode(), true),
                    Failure::tail($this->log()),
                    Failure::tail((string) @file_get_contents($this->dir . '/master.err'))
                ));
            }
            if (microtime(true) >= $deadline) {
                $this->kill();
                Failure::raise('php-fpm was not ready within ' . self::READY_TIMEOUT . "s on port {$this->port}.\n" . Failure::tail($this->log()));
            }
            usleep(20_000);
        }
        $pidFile = trim((string) @file_get_contents($this->dir . '/php-fpm.pid'));
        if ($pidFile !== (string) $this->masterPid) {
            $this->kill();
            Failure::raise("php-fpm's pid file says '$pidFile', the process we started is {$this->masterPid}");
        }
    }

    /** @return array{process:BackgroundProcess,stdout:string,stderr:string,script:string,query:array,deadline:float} */
    private function send(string $script, array $query): array
    {
        $path = str_starts_with($script, '/') ? $script : dirname(__DIR__) . '/fpm/' . $script;
        if (!is_file($path)) {
            throw new \InvalidArgumentException("no script $path");
        }
        $queryString = http_build_query($query);
        $n = ++$this->requests;
        $stdout = "{$this->dir}/request-$n.out";
        $stderr = "{$this->dir}/request-$n.err";
        // cgi-fcgi passes its whole environment as the FastCGI parameters: exactly the CGI variables.
        $params = [
            'GATEWAY_INTERFACE' => 'CGI/1.1',
            'SERVER_PROTOCOL' => 'HTTP/1.1',
            'SERVER_NAME' => 'localhost',
            'REMOTE_ADDR' => '127.0.0.1',
            'REQUEST_METHOD' => 'GET',
            'SCRIPT_FILENAME' => $path,
            'SCRIPT_NAME' => '/' . basename($path),
            'REQUEST_URI' => '/' . basename($path) . ($queryString === '' ? '' : "?$queryString"),
            'QUERY_STRING' => $queryString,
        ];
        return [
            'process' => new BackgroundProcess([self::CGI_FCGI, '-bind', '-connect', "127.0.0.1:{$this->port}"], $stdout, $stderr, $params),
            'stdout' => $stdout,
            'stderr' => $stderr,
            'script' => basename($path),
            'query' => $query,
            'deadline' => microtime(true) + (float) $this->options['request_timeout'],
        ];
    }

    private function receive(array $request): string
    {
        $process = $request['process'];
        $finished = $process->wait(max(0.0, $request['deadline'] - microtime(true)));
        $process->kill();
        $response = (string) file_get_contents($request['stdout']);
        $errors = (string) file_get_contents($request['stderr']);
        @unlink($request['stdout']);
        @unlink($request['stderr']);

        $describe = fn (string $problem): string => sprintf(
            "FastCGI request %s?%s %s\n--- response ---\n%s\n--- cgi-fcgi stderr ---\n%s\n--- php-fpm.log ---\n%s",
            $request['script'],
            http_build_query($request['query']),
            $problem,
            Failure::tail($response),
            Failure::tail($errors),
            Failure::tail($this->log())
        );
        if (!$finished) {
            Failure::raise($describe(sprintf('did not complete within %.1fs', $this->options['request_timeout'])));
        }
        // The response itself is checked below, whole.
        if (!$process->succeeded()) {
            Failure::raise($describe("failed: cgi-fcgi exit code {$process->exitCode()}"));
        }
        $split = strpos($response, "\r\n\r\n");
        if ($split === false) {
            Failure::raise($describe('returned no complete header block'));
        }
        $headers = substr($response, 0, $split);
        if (preg_match('/^Status: (\d+)/mi', $headers, $status) && $status[1] !== '200') {
            Failure::raise($describe("returned HTTP status {$status[1]}"));
        }
        if ($errors !== '') {
            Failure::raise($describe('wrote to FastCGI stderr (a PHP error or warning)'));
        }
        return substr($response, $split + 4);
    }

    private function writeConfig(): void
    {
        $o = $this->options;
        $user = posix_getpwuid(posix_geteuid())['name'] ?? 'root';
        $group = posix_getgrgid(posix_getegid())['name'] ?? 'root';
        $conf = [
            '[global]',
            "pid = {$this->dir}/php-fpm.pid",
            "error_log = {$this->dir}/php-fpm.log",
            "log_level = {$o['log_level']}",
            'daemonize = no',
            "process_control_timeout = {$o['process_control_timeout']}s",
            '',
            '[mqtt]',
            "listen = 127.0.0.1:{$this->port}",
            'listen.backlog = 511',
            'pm = static',
            "pm.max_children = {$o['children']}",
            "pm.max_requests = {$o['max_requests']}",
            'catch_workers_output = yes',
            'request_terminate_timeout = 60s',
        ];
        if (posix_geteuid() === 0) {
            // Only root may (and, with --allow-to-run-as-root, must) name the workers' user.
            $conf[] = "user = $user";
            $conf[] = "group = $group";
        }
        file_put_contents($this->dir . '/php-fpm.conf', implode("\n", $conf) . "\n");

        $ini = [];
        if ($o['opcache']) {
            $ini[] = 'zend_extension=opcache.so';
            $ini[] = 'opcache.enable=1';
            $ini[] = 'opcache.jit=off';
        }
        $ini[] = 'extension=' . $o['extension'];
        $settings = array_replace([
            'error_reporting' => '-1',
            // Errors go to the FastCGI client's stderr (and FPM's log), where request() sees them.
            'display_errors' => 'Off',
            'log_errors' => 'On',
            'html_errors' => 'Off',
        ], $o['ini']);
        foreach ($settings as $name => $value) {
            $ini[] = "$name = " . (is_bool($value) ? ($value ? 'On' : 'Off') : $value);
        }
        file_put_contents($this->dir . '/php.ini', implode("\n", $ini) . "\n");
    }

    private function accepts(): bool
    {
        return Broker::portAccepts($this->port);
    }

    private static function killAllAtExit(self $pool): void
    {
        if (self::$started === []) {
            // Destructors do not run after a fatal error: make sure no php-fpm outlives us.
            register_shutdown_function(static function (): void {
                foreach (self::$started as $ref) {
                    $ref->get()?->kill();
                }
            });
        }
        self::$started[] = \WeakReference::create($pool);
    }
}
