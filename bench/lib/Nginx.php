<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\TempDir;

/**
 * A real nginx (Debian's nginx-light) in front of a PHP-FPM pool: its own
 * config, pid file, logs and temp paths in a temp directory, one worker, on a
 * free 127.0.0.1 port, serving one PHP script through fastcgi_pass (a new
 * FastCGI connection per request, nginx's default). Not the system service.
 */
final class Nginx
{
    private const BINARY = '/usr/sbin/nginx';
    private const READY_TIMEOUT = 10.0;

    private ?BackgroundProcess $process = null;

    private function __construct(private readonly int $port, private readonly string $dir)
    {
    }

    /**
     * Starts nginx and returns once it accepts connections; every request to
     * $urlPath goes to $script on the FastCGI server at 127.0.0.1:$fastCgiPort.
     */
    public static function start(int $fastCgiPort, string $urlPath, string $script): self
    {
        if (!is_executable(self::BINARY)) {
            throw new \RuntimeException('no ' . self::BINARY . ': install Debian\'s nginx-light (./build.sh deps bench)');
        }
        $dir = sys_get_temp_dir() . '/mqtt-broadcast-nginx-' . bin2hex(random_bytes(6));
        if (!mkdir($dir, 0700)) {
            throw new \RuntimeException("cannot create $dir");
        }
        $nginx = new self(Broker::freePort(), $dir);
        $nginx->writeConfig($fastCgiPort, $urlPath, $script);
        $nginx->launch();
        return $nginx;
    }

    public function url(string $path): string
    {
        return "http://127.0.0.1:{$this->port}$path";
    }

    /** nginx's error log: "FastCGI sent in stderr" lines are PHP's warnings and errors. */
    public function errorLog(): string
    {
        return (string) @file_get_contents($this->dir . '/error.log');
    }

    /** Graceful stop (SIGQUIT: the worker finishes its requests), then waits for the master to exit. */
    public function stop(float $timeout = 10.0): void
    {
        if ($this->process === null) {
            return;
        }
        posix_kill($this->process->pid(), SIGQUIT);
        if (!$this->process->wait($timeout)) {
            $this->process->kill();
            throw new \RuntimeException("nginx did not stop within {$timeout}s\n" . $this->errorLog());
        }
        $this->process = null;
    }

    public function __destruct()
    {
        // The master takes its worker along on SIGTERM; SIGKILL (BackgroundProcess::kill) would leave it behind.
        if ($this->process !== null && $this->process->isRunning()) {
            posix_kill($this->process->pid(), SIGTERM);
            $this->process->wait(5.0);
        }
        $this->process?->kill();
        TempDir::remove($this->dir);
    }

    private function writeConfig(int $fastCgiPort, string $urlPath, string $script): void
    {
        $d = $this->dir;
        $lines = [
            'daemon off;',
            'worker_processes 1;',
            "pid $d/nginx.pid;",
            "error_log $d/error.log warn;",
            'events { worker_connections 1024; }',
            'http {',
            '    access_log off;',
            "    client_body_temp_path $d/client_body;",
            "    fastcgi_temp_path $d/fastcgi;",
            "    proxy_temp_path $d/proxy;",
            "    scgi_temp_path $d/scgi;",
            "    uwsgi_temp_path $d/uwsgi;",
            '    server {',
            "        listen 127.0.0.1:{$this->port};",
            "        location = $urlPath {",
            "            fastcgi_pass 127.0.0.1:$fastCgiPort;",
            // What Debian's /etc/nginx/fastcgi_params passes, with the script fixed.
            "            fastcgi_param SCRIPT_FILENAME $script;",
            '            fastcgi_param SCRIPT_NAME $fastcgi_script_name;',
            '            fastcgi_param QUERY_STRING $query_string;',
            '            fastcgi_param REQUEST_METHOD $request_method;',
            '            fastcgi_param CONTENT_TYPE $content_type;',
            '            fastcgi_param CONTENT_LENGTH $content_length;',
            '            fastcgi_param REQUEST_URI $request_uri;',
            '            fastcgi_param DOCUMENT_URI $document_uri;',
            '            fastcgi_param SERVER_PROTOCOL $server_protocol;',
            '            fastcgi_param GATEWAY_INTERFACE CGI/1.1;',
            '            fastcgi_param SERVER_SOFTWARE nginx/$nginx_version;',
            '            fastcgi_param REMOTE_ADDR $remote_addr;',
            '            fastcgi_param REMOTE_PORT $remote_port;',
            '            fastcgi_param SERVER_ADDR $server_addr;',
            '            fastcgi_param SERVER_PORT $server_port;',
            '            fastcgi_param SERVER_NAME $server_name;',
            '        }',
            '    }',
            '}',
        ];
        if (posix_geteuid() === 0) {
            // As root, nginx's workers would run as nobody, who cannot enter this 0700 directory.
            array_unshift($lines, 'user root;');
        }
        file_put_contents("$d/nginx.conf", implode("\n", $lines) . "\n");
    }

    private function launch(): void
    {
        $this->process = new BackgroundProcess(
            [self::BINARY, '-p', $this->dir . '/', '-c', $this->dir . '/nginx.conf', '-e', $this->dir . '/error.log'],
            $this->dir . '/master.out',
            $this->dir . '/master.err'
        );
        $deadline = microtime(true) + self::READY_TIMEOUT;
        while (!Broker::portAccepts($this->port)) {
            if (!$this->process->isRunning() || microtime(true) >= $deadline) {
                $this->process->kill();
                throw new \RuntimeException("nginx did not accept connections on port {$this->port}\n"
                    . $this->errorLog() . (string) @file_get_contents($this->dir . '/master.err'));
            }
            usleep(20_000);
        }
    }
}
