<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * A real Apache (Debian's apache2) with a threaded MPM and the Apache module of
 * a thread-safe PHP: one child process whose threads serve the requests, the way
 * mod_php runs under the worker and event MPMs. Configured from scratch in a temp
 * directory on a free 127.0.0.1 port, serving tests/fpm/, with the extension under
 * test loaded by the php.ini Apache's PHP reads at start.
 *
 * The PHP module is $MQTT_BROADCAST_APACHE_PHP (tests/matrix/zts.sh builds one).
 * PHP errors and what the extension writes to stderr end up in log().
 */
final class ApacheServer
{
    private const BINARY = '/usr/sbin/apache2';
    private const MODULES = '/usr/lib/apache2/modules';
    private const READY_TIMEOUT = 15.0;

    private ?BackgroundProcess $process = null;

    private function __construct(
        private readonly int $port,
        private readonly string $dir,
        private readonly int $threads
    ) {
    }

    /** Why Apache with a thread-safe PHP cannot run here, or null. */
    public static function unavailable(): ?string
    {
        if (!PHP_ZTS) {
            return 'needs a thread-safe (ZTS) PHP: run ./build.sh test-zts';
        }
        $module = getenv('MQTT_BROADCAST_APACHE_PHP');
        if ($module === false || !is_file($module)) {
            return 'needs the Apache module of this PHP in $MQTT_BROADCAST_APACHE_PHP (./build.sh test-zts sets it)';
        }
        if (!is_executable(self::BINARY)) {
            return 'needs Debian\'s Apache (' . self::BINARY . ', package apache2-bin)';
        }
        return null;
    }

    /**
     * Starts Apache with one child process of $threads threads ($mpm: worker or event)
     * and returns once it answers.
     */
    public static function start(int $threads = 8, string $mpm = 'worker'): self
    {
        $reason = self::unavailable();
        if ($reason !== null) {
            throw new \RuntimeException("cannot start Apache: $reason");
        }
        $dir = sys_get_temp_dir() . '/mqtt-broadcast-apache-' . bin2hex(random_bytes(6));
        if (!mkdir($dir, 0755)) {
            throw new \RuntimeException("cannot create $dir");
        }
        $server = new self(Broker::freePort(), $dir, $threads);
        $server->writeConfig($mpm);
        $server->launch();
        return $server;
    }

    public function isRunning(): bool
    {
        return $this->process !== null && $this->process->isRunning();
    }

    /** @return list<int> pids of the parent's children: the processes serving requests */
    public function childPids(): array
    {
        return $this->isRunning() ? FpmPool::childrenOf($this->process->pid()) : [];
    }

    /** Apache's error log: its notices, PHP's errors, and whatever the children wrote to stderr. */
    public function log(): string
    {
        return (string) @file_get_contents($this->dir . '/error.log');
    }

    /**
     * GET requests to scripts in tests/fpm/, all sent before any response is read, so
     * that they run at the same time in as many threads; returns the bodies in order.
     * Fails the test on anything but a 200.
     *
     * @param list<array{0:string,1?:array<string,scalar>}> $requests
     * @return list<string>
     */
    public function requests(array $requests, float $timeout = 20.0): array
    {
        $sockets = [];
        foreach ($requests as [$script, $query]) {
            $socket = @stream_socket_client("tcp://127.0.0.1:{$this->port}", $errno, $error, 5.0);
            if ($socket === false) {
                Failure::raise("cannot connect to Apache on port {$this->port}: $error\n" . Failure::tail($this->log()));
            }
            fwrite($socket, "GET /$script?" . http_build_query($query) . " HTTP/1.0\r\nHost: localhost\r\n\r\n");
            $sockets[] = $socket;
        }
        $deadline = microtime(true) + $timeout;
        $bodies = [];
        foreach ($sockets as $i => $socket) {
            $response = '';
            while (!feof($socket)) {
                $left = $deadline - microtime(true);
                if ($left <= 0) {
                    Failure::raise(sprintf("request %s did not complete within %.1fs\n%s", $requests[$i][0], $timeout, Failure::tail($this->log())));
                }
                stream_set_timeout($socket, (int) ceil($left));
                $response .= (string) fread($socket, 65536);
            }
            fclose($socket);
            [$head, $body] = explode("\r\n\r\n", $response, 2) + [1 => ''];
            if (!preg_match('#^HTTP/1\.\d 200 #', $head)) {
                Failure::raise(sprintf("request %s returned\n%s\n%s\n--- error.log ---\n%s", $requests[$i][0], $head, Failure::tail($body), Failure::tail($this->log())));
            }
            $bodies[] = $body;
        }
        return $bodies;
    }

    /**
     * Graceful stop (SIGWINCH): the children finish their requests and end, which
     * shuts PHP and its extensions down. Returns the seconds it took.
     */
    public function gracefulStop(float $timeout = 30.0): float
    {
        $start = microtime(true);
        posix_kill($this->process->pid(), SIGWINCH);
        if (!$this->process->wait($timeout)) {
            $this->kill();
            Failure::raise(sprintf("Apache did not stop within %.1fs and was killed.\n%s", $timeout, Failure::tail($this->log())));
        }
        return microtime(true) - $start;
    }

    public function kill(): void
    {
        if ($this->process === null) {
            return;
        }
        $children = $this->childPids();
        $this->process->kill();
        foreach ($children as $pid) {
            posix_kill($pid, SIGKILL);
        }
        $this->process = null;
    }

    public function __destruct()
    {
        $this->kill();
        TempDir::remove($this->dir);
    }

    private function writeConfig(string $mpm): void
    {
        $docroot = dirname(__DIR__) . '/fpm';
        $conf = [
            "ServerRoot {$this->dir}",
            'ServerName localhost',
            "Listen 127.0.0.1:{$this->port}",
            "PidFile {$this->dir}/httpd.pid",
            "DefaultRuntimeDir {$this->dir}",
            "ErrorLog {$this->dir}/error.log",
            'LogLevel notice',
            sprintf('LoadModule mpm_%s_module %s/mod_mpm_%s.so', $mpm, self::MODULES, $mpm),
            // Apache 2.4 serves nothing without an access decision.
            'LoadModule authz_core_module ' . self::MODULES . '/mod_authz_core.so',
            'LoadModule php_module ' . getenv('MQTT_BROADCAST_APACHE_PHP'),
            "PHPIniDir {$this->dir}",
            // One child process and all its threads: every request lands in the same process.
            'ServerLimit 1',
            'StartServers 1',
            "ThreadLimit {$this->threads}",
            "ThreadsPerChild {$this->threads}",
            "MaxRequestWorkers {$this->threads}",
            'MinSpareThreads 1',
            "MaxSpareThreads {$this->threads}",
            'MaxConnectionsPerChild 0',
            'KeepAlive Off',
            'GracefulShutdownTimeout 30',
            "DocumentRoot $docroot",
            "<Directory $docroot>",
            '    Require all granted',
            '</Directory>',
            '<FilesMatch "\.php$">',
            '    SetHandler application/x-httpd-php',
            '</FilesMatch>',
        ];
        if (posix_geteuid() === 0) {
            // Apache refuses to serve as root: the children switch to www-data.
            $conf[] = 'User www-data';
            $conf[] = 'Group www-data';
        }
        file_put_contents($this->dir . '/httpd.conf', implode("\n", $conf) . "\n");
        file_put_contents($this->dir . '/php.ini', implode("\n", [
            'extension=' . PhpScript::extensionPath(),
            'error_reporting = -1',
            'display_errors = Off',
            'log_errors = On',
            'html_errors = Off',
        ]) . "\n");
    }

    private function launch(): void
    {
        $env = getenv();
        $env['PHP_INI_SCAN_DIR'] = '';
        $this->process = new BackgroundProcess(
            [self::BINARY, '-f', $this->dir . '/httpd.conf', '-DFOREGROUND'],
            $this->dir . '/apache.out',
            $this->dir . '/apache.err',
            $env
        );
        $deadline = microtime(true) + self::READY_TIMEOUT;
        while (!(count($this->childPids()) === 1 && Broker::portAccepts($this->port))) {
            if (!$this->process->isRunning()) {
                Failure::raise(sprintf(
                    "Apache exited with code %s at start.\n--- error.log ---\n%s\n--- stderr ---\n%s",
                    var_export($this->process->exitCode(), true),
                    Failure::tail($this->log()),
                    Failure::tail((string) @file_get_contents($this->dir . '/apache.err'))
                ));
            }
            if (microtime(true) >= $deadline) {
                $this->kill();
                Failure::raise('Apache was not ready within ' . self::READY_TIMEOUT . "s on port {$this->port}.\n" . Failure::tail($this->log()));
            }
            usleep(20_000);
        }
    }
}
