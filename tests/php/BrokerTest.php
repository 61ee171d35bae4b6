<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Broker;
use Mqtt\Client;
use Mqtt\ConfigException;
use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Broker as Mosquitto;
use MqttBroadcast\Tests\Support\Certificates;
use MqttBroadcast\Tests\Support\PhpChild;
use MqttBroadcast\Tests\Support\PhpScript;
use PHPUnit\Framework\TestCase;

/**
 * Mqtt\Broker, the built-in broker, with Mosquitto's own clients (mosquitto_pub,
 * mosquitto_sub) and ours against it: passwords, the ACL, retained messages, a
 * persistent session's queued messages across a restart of a broker run() in a
 * child process, a will, a $share group, TLS with client certificates, and the
 * options it refuses before listening.
 *
 * Every wait is bounded polling; nothing is timed.
 */
final class BrokerTest extends TestCase
{
    private const WAIT = 20.0;

    /** @var list<Broker> */
    private array $brokers = [];
    /** @var list<BackgroundProcess> */
    private array $processes = [];
    /** @var list<Client> */
    private array $clients = [];
    private ?string $dir = null;

    protected function tearDown(): void
    {
        foreach ($this->clients as $client) {
            try {
                $client->close();
            } catch (\Mqtt\MqttException) {
            }
        }
        foreach ($this->processes as $process) {
            $process->kill();
        }
        foreach ($this->brokers as $broker) {
            $broker->stop();
        }
        $this->clients = $this->processes = $this->brokers = [];
        if ($this->dir !== null) {
            exec('rm -rf ' . escapeshellarg($this->dir));
            $this->dir = null;
        }
    }

    public function testLoadingTheExtensionOrMakingABrokerStartsNothing(): void
    {
        $port = Mosquitto::freePort();
        $result = PhpScript::run(<<<PHP
            \$threads = fn () => count(scandir('/proc/self/task')) - 2;
            echo \$threads(), "\\n";
            new Mqtt\\Client(['host' => '127.0.0.1', 'port' => 1, 'reconnect' => ['max_retries' => 1]], 'nobody');
            \$broker = new Mqtt\\Broker(['listen' => '127.0.0.1:$port']);
            echo var_export(\$broker->isRunning(), true), ' ', var_export(\$broker->port(), true), "\\n";
            echo @fsockopen('127.0.0.1', $port) === false ? 'closed' : 'open', "\\n";
            PHP);
        $this->assertSame(0, $result->exitCode, $result->describe());
        $lines = explode("\n", trim($result->stdout));
        $this->assertSame('1', $lines[0], 'one thread after loading the extension: ' . $result->describe());
        $this->assertSame('false NULL', $lines[1], $result->describe());
        $this->assertSame('closed', $lines[2], 'nothing listens before start(): ' . $result->describe());
    }

    public function testOurClientAndMosquittoClientsExchangeMessagesAtEachQos(): void
    {
        $broker = $this->broker();
        $port = $broker->port();
        $this->assertIsInt($port);
        $this->assertGreaterThan(0, $port);

        $sub = $this->mosquittoSub($port, ['-t', 'greetings/#', '-q', '2', '-v']);
        $this->awaitSubscriptions($broker, 1);
        $client = $this->client(['port' => $port]);
        foreach ([0, 1, 2] as $qos) {
            $client->publishSync("greetings/qos$qos", "hello at $qos", $qos, false, 10);
        }
        $this->awaitOutput($sub, 3);
        $this->assertSame(
            ['greetings/qos0 hello at 0', 'greetings/qos1 hello at 1', 'greetings/qos2 hello at 2'],
            $this->lines($sub)
        );

        $subscriber = new Subscriber([$this->client(['port' => $port, 'client_id' => 'ours-' . bin2hex(random_bytes(3))], 'sub')]);
        $subscriber->subscribe('from-mosquitto/+', 1, 10);
        $this->mosquittoPub($port, ['-t', 'from-mosquitto/a', '-m', 'payload', '-q', '1']);
        $message = $this->next($subscriber);
        $this->assertSame(['from-mosquitto/a', 'payload'], [$message->topic, $message->payload]);

        $status = $broker->status();
        $this->assertTrue($status['running']);
        $this->assertSame([['name' => 'mqtt', 'address' => "127.0.0.1:$port", 'port' => $port]], $status['listeners']);
        $this->assertGreaterThanOrEqual(3, $status['clients'], json_encode($status));
        $this->assertGreaterThanOrEqual(4, $status['messages_received'], json_encode($status));
        $this->assertGreaterThanOrEqual(4, $status['messages_sent'], json_encode($status));
        $this->assertGreaterThan(0.0, $status['uptime']);
    }

    public function testWrongPasswordsAndAnonymousClientsAreRefused(): void
    {
        $broker = $this->broker(['users' => ['app' => 'secret']]);
        $port = $broker->port();

        $this->assertSame(0, $this->mosquittoPub($port, ['-u', 'app', '-P', 'secret', '-t', 't', '-m', 'in'])[0]);
        [$code, $output] = $this->mosquittoPub($port, ['-u', 'app', '-P', 'wrong', '-t', 't', '-m', 'x']);
        $this->assertNotSame(0, $code);
        $this->assertMatchesRegularExpression('/bad user name or password/i', $output);
        [$code, $output] = $this->mosquittoPub($port, ['-t', 't', '-m', 'x']);
        $this->assertNotSame(0, $code);
        $this->assertMatchesRegularExpression('/not authori[sz]ed/i', $output);

        $client = $this->client(['port' => $port, 'username' => 'app', 'password' => 'wrong']);
        $this->assertFalse($client->waitConnected(3.0));
        $status = $client->status();
        $this->assertMatchesRegularExpression('/bad user name or password|not authori[sz]ed/i', (string) $status['last_error']);
        $this->assertStringNotContainsString('wrong', (string) $status['last_error']);
    }

    public function testAPasswordFileWrittenByMosquittoPasswdIsRead(): void
    {
        $file = $this->dir() . '/passwd';
        // -H sha512-pbkdf2: Mosquitto 2.1 defaults to argon2id, which is refused (README).
        exec('mosquitto_passwd -H sha512-pbkdf2 -c -b ' . escapeshellarg($file) . ' alice alices-pw 2>&1', $out, $code);
        $this->assertSame(0, $code, implode("\n", $out));
        exec('mosquitto_passwd -H sha512-pbkdf2 -b ' . escapeshellarg($file) . ' bob bobs-pw 2>&1', $out, $code);
        $this->assertSame(0, $code, implode("\n", $out));
        $broker = $this->broker(['password_file' => $file]);
        $port = $broker->port();

        $sub = $this->mosquittoSub($port, ['-u', 'bob', '-P', 'bobs-pw', '-t', 'file/t', '-q', '1']);
        $this->awaitSubscriptions($broker, 1);
        $this->assertSame(0, $this->mosquittoPub($port, ['-u', 'alice', '-P', 'alices-pw', '-t', 'file/t', '-m', 'from alice', '-q', '1'])[0]);
        $this->awaitOutput($sub, 1);
        $this->assertSame(['from alice'], $this->lines($sub));
        [$code, $output] = $this->mosquittoPub($port, ['-u', 'alice', '-P', 'bobs-pw', '-t', 'file/t', '-m', 'x']);
        $this->assertNotSame(0, $code);
        $this->assertMatchesRegularExpression('/bad user name or password/i', $output);
    }

    public function testTheAclDeniesPublishingAndSubscribing(): void
    {
        $broker = $this->broker([
            'users' => ['reader' => 'r', 'writer' => 'w'],
            'acl' => [
                ['user' => 'reader', 'topic' => '#', 'access' => 'read'],
                ['user' => 'writer', 'topic' => 'metrics/#', 'access' => 'write'],
            ],
        ]);
        $port = $broker->port();

        $sub = $this->mosquittoSub($port, ['-u', 'reader', '-P', 'r', '-t', '#', '-q', '1', '-v']);
        $this->awaitSubscriptions($broker, 1);
        $writer = $this->client(['port' => $port, 'username' => 'writer', 'password' => 'w']);
        // Denied, then allowed: once the allowed one is read, the denied one would have been too.
        $writer->publishSync('other/topic', 'denied', 1, false, 10);
        $writer->publishSync('metrics/cpu', 'allowed', 1, false, 10);
        $this->awaitOutput($sub, 1);
        $this->assertSame(['metrics/cpu allowed'], $this->lines($sub));

        // The writer may not read, nor the reader write.
        // mosquitto_sub says so and ends (with status 0) on a SUBACK that refuses every filter.
        [, $output] = $this->mosquittoSubOnce($port, ['-u', 'writer', '-P', 'w', '-t', 'metrics/#', '-q', '1']);
        $this->assertSame('All subscription requests were denied.', trim($output));
        $this->mosquittoPub($port, ['-u', 'reader', '-P', 'r', '-t', 'metrics/cpu', '-m', 'reader wrote', '-q', '1']);
        $writer->publishSync('metrics/cpu', 'barrier', 1, false, 10);
        $this->awaitOutput($sub, 2);
        $this->assertSame(['metrics/cpu allowed', 'metrics/cpu barrier'], $this->lines($sub));
    }

    public function testARetainedMessageReachesALateSubscriber(): void
    {
        $broker = $this->broker();
        $port = $broker->port();
        $client = $this->client(['port' => $port]);
        $client->publishSync('state/door', 'open', 1, true, 10);
        $this->assertSame(1, $broker->status()['retained']);

        [$code, $output] = $this->mosquittoSubOnce($port, ['-t', 'state/#', '-C', '1', '-v']);
        $this->assertSame(0, $code, $output);
        $this->assertSame('state/door open', trim($output));
    }

    public function testQueuedMessagesOfAPersistentSessionSurviveARestart(): void
    {
        $dir = $this->dir() . '/store';
        $port = Mosquitto::freePort();
        $broker = $this->brokerChild($port, $dir);

        // A persistent session subscribes, then goes away.
        $sub = $this->mosquittoSub($port, ['-c', '-i', 'keeper', '-t', 'queued/t', '-q', '1']);
        $probe = $this->client(['port' => $port]);
        $this->awaitProbe($probe, $sub, 'queued/t');
        $sub->terminate();
        $this->assertTrue($sub->wait(self::WAIT));

        $expected = [];
        for ($i = 1; $i <= 10; $i++) {
            $expected[] = "message $i";
            $probe->publishSync('queued/t', "message $i", 1, false, 10);
        }
        $probe->close();

        $broker->signal(SIGTERM);
        $this->assertTrue($broker->wait(self::WAIT), 'SIGTERM stops run(): ' . $broker->describe());
        $this->assertSame(0, $broker->exitCode(), $broker->describe());
        $this->assertStringContainsString('stopped', $broker->stdout());

        $restarted = $this->brokerChild($port, $dir);
        $sub = $this->mosquittoSub($port, ['-c', '-i', 'keeper', '-t', 'queued/t', '-q', '1']);
        $this->awaitOutput($sub, 10);
        $received = array_values(array_filter($this->lines($sub), fn ($line) => !str_starts_with($line, 'probe')));
        // Each exactly once. Not always in order: rmqtt may deliver the last
        // queued ones of a restored session out of order (README, Built-in broker).
        sort($received, SORT_NATURAL);
        $this->assertSame($expected, $received, 'nothing lost, nothing doubled');
        $this->assertTrue($restarted->isRunning());
    }

    public function testAWillIsPublishedWhenAClientIsKilled(): void
    {
        $broker = $this->broker();
        $port = $broker->port();
        $sub = $this->mosquittoSub($port, ['-t', 'wills/#', '-q', '1', '-v']);
        $this->awaitSubscriptions($broker, 1);

        $child = PhpChild::start(<<<PHP
            \$client = new Mqtt\\Client(['port' => $port, 'will' => ['topic' => 'wills/worker', 'payload' => 'gone', 'qos' => 1]]);
            if (!\$client->waitConnected(10)) { exit(1); }
            echo "connected\\n";
            sleep(60);
            PHP);
        $child->waitForLine('connected');
        $this->assertSame([], $this->lines($sub), 'no will while it lives');
        $child->kill();
        $this->awaitOutput($sub, 1);
        $this->assertSame(['wills/worker gone'], $this->lines($sub));
    }

    public function testASharedSubscriptionSplitsAStreamAmongThreeSubscribers(): void
    {
        $broker = $this->broker();
        $port = $broker->port();
        $subs = [];
        foreach (['a', 'b', 'c'] as $name) {
            $subs[$name] = $this->mosquittoSub($port, ['-t', '$share/workers/jobs/#', '-q', '1', '-i', "worker-$name"]);
        }
        $this->awaitSubscriptions($broker, 3);

        $client = $this->client(['port' => $port]);
        $expected = [];
        for ($i = 1; $i <= 60; $i++) {
            $expected[] = "job $i";
            $client->publishSync('jobs/x', "job $i", 1, false, 10);
        }
        $this->awaitCondition(
            fn () => array_sum(array_map(fn ($sub) => count($this->lines($sub)), $subs)) >= 60,
            'the 60 jobs arrive'
        );
        $all = array_merge(...array_values(array_map(fn ($sub) => $this->lines($sub), $subs)));
        sort($all, SORT_NATURAL);
        $this->assertSame($expected, $all, 'each job exactly once');
        foreach ($subs as $name => $sub) {
            $this->assertNotEmpty($this->lines($sub), "worker $name got a share");
        }
    }

    public function testTlsWithTheServersCaAndWithAClientCertificate(): void
    {
        $certs = Certificates::shared();
        $server = $certs->server();
        $client = $certs->client();
        $broker = $this->broker([
            'tls' => ['listen' => '127.0.0.1:0', 'cert_file' => $server['cert'], 'key_file' => $server['key']],
        ]);
        $tlsPort = $broker->status()['listeners'][1]['port'];
        $this->assertSame('tls', $broker->status()['listeners'][1]['name']);

        $sub = $this->mosquittoSub($tlsPort, ['--cafile', $certs->ca(), '-t', 'secure/#', '-q', '1']);
        $this->awaitSubscriptions($broker, 1);
        $ours = $this->client(['port' => $tlsPort, 'tls' => ['ca_file' => $certs->ca()]]);
        $ours->publishSync('secure/a', 'over tls', 1, false, 10);
        $this->awaitOutput($sub, 1);
        $this->assertSame(['over tls'], $this->lines($sub));

        $mutual = $this->broker([
            'listen' => false,
            'tls' => ['listen' => '127.0.0.1:0', 'cert_file' => $server['cert'], 'key_file' => $server['key'], 'ca_file' => $certs->ca()],
        ]);
        $port = $mutual->port();
        $tls = ['--cafile', $certs->ca(), '--cert', $client['cert'], '--key', $client['key']];
        $sub = $this->mosquittoSub($port, [...$tls, '-t', 'mutual/#', '-q', '1']);
        $this->awaitSubscriptions($mutual, 1);
        $this->assertSame(0, $this->mosquittoPub($port, [...$tls, '-t', 'mutual/a', '-m', 'with a certificate', '-q', '1'])[0]);
        $ours = $this->client(['port' => $port, 'tls' => ['ca_file' => $certs->ca(), 'cert_file' => $client['cert'], 'key_file' => $client['key']]]);
        $ours->publishSync('mutual/b', 'ours with a certificate', 1, false, 10);
        $this->awaitOutput($sub, 2);
        $this->assertSame(['with a certificate', 'ours with a certificate'], $this->lines($sub));

        [$code] = $this->mosquittoPub($port, ['--cafile', $certs->ca(), '-t', 'mutual/a', '-m', 'no certificate']);
        $this->assertNotSame(0, $code, 'a client without a certificate is refused');
        $rogue = $certs->rogueClient();
        [$code] = $this->mosquittoPub($port, ['--cafile', $certs->ca(), '--cert', $rogue['cert'], '--key', $rogue['key'], '-t', 'mutual/a', '-m', 'rogue']);
        $this->assertNotSame(0, $code, 'a certificate of another CA is refused');
        $this->mosquittoPub($port, [...$tls, '-t', 'mutual/a', '-m', 'barrier', '-q', '1']);
        $this->awaitOutput($sub, 3);
        $this->assertSame(['with a certificate', 'ours with a certificate', 'barrier'], $this->lines($sub));
    }

    /** @dataProvider badOptions */
    public function testBadOptionsThrowNamingTheOption(\Closure $options, string $message): void
    {
        try {
            new Broker($options($this));
            $this->fail('no exception');
        } catch (ConfigException $e) {
            $this->assertStringContainsString($message, $e->getMessage());
        }
    }

    public static function badOptions(): iterable
    {
        yield 'unknown option' => [fn () => ['lisen' => '127.0.0.1:0'], 'unknown option "lisen" (did you mean "listen"?)'];
        yield 'no port' => [fn () => ['listen' => 'localhost'], 'option "listen" must be an address as "host:port"'];
        yield 'unreadable certificate' => [
            fn () => ['tls' => ['listen' => '127.0.0.1:0', 'cert_file' => '/nonexistent.pem', 'key_file' => '/nonexistent.key']],
            'option "tls.cert_file" must be a readable file',
        ];
        yield 'unreadable password file' => [fn () => ['password_file' => '/nonexistent/passwd'], 'option "password_file" must be a readable file'];
        yield 'plain password file' => [fn (self $test) => ['password_file' => $test->file('passwd', "app:secret\n")], 'option "password_file" cannot be used: line 1 (user "app") has no mosquitto_passwd hash'];
        yield 'invalid ACL filter' => [
            fn () => ['acl' => [['user' => 'app', 'topic' => 'a/#/b', 'access' => 'read']]],
            "option \"acl.0.topic\" must be a valid topic filter (must use '#' only as the last topic level)",
        ];
        yield 'unknown access' => [fn () => ['acl' => [['topic' => 'a', 'access' => 'all']]], 'option "acl.0.access" must be "read", "write", "readwrite" or "deny"'];
        yield 'websocket' => [fn () => ['ws' => '127.0.0.1:8080'], 'option "ws" is not supported'];
        yield 'packet size' => [fn () => ['max_packet_size' => 0], 'option "max_packet_size" must be a number of bytes between 128 and 268435455'];
        yield 'not an array of users' => [fn () => ['users' => 'app'], 'option "users" must be an array of user name => password'];
    }

    public function testAPortInUseOrACertificateThatIsNoneThrowsAtStartAndNothingListens(): void
    {
        $first = $this->broker();
        $port = $first->port();
        $second = new Broker(['listen' => "127.0.0.1:$port"]);
        try {
            $second->start();
            $this->fail('no exception');
        } catch (ConfigException $e) {
            $this->assertStringContainsString("option \"listen\" cannot listen on 127.0.0.1:$port", $e->getMessage());
        }
        $this->assertFalse($second->isRunning());

        $certs = Certificates::shared();
        $tlsPort = Mosquitto::freePort();
        $bad = new Broker([
            'listen' => '127.0.0.1:0',
            'tls' => ['listen' => "127.0.0.1:$tlsPort", 'cert_file' => $certs->notPem(), 'key_file' => $certs->server()['key']],
        ]);
        try {
            $bad->start();
            $this->fail('no exception');
        } catch (ConfigException $e) {
            $this->assertStringContainsString('option "tls.cert_file"', $e->getMessage());
        }
        $this->assertFalse($bad->isRunning());
        $this->assertFalse(Mosquitto::portAccepts($tlsPort), 'nothing listens after a refused start');

        // The first broker is unharmed by both.
        $this->assertSame(0, $this->mosquittoPub($port, ['-t', 't', '-m', 'still here'])[0]);
    }

    public function testClientsOverTheLimitsAreRefusedAndTheBrokerKeepsRunning(): void
    {
        $broker = $this->broker(['max_connections' => 2, 'max_packet_size' => 1024]);
        $port = $broker->port();
        $sub = $this->mosquittoSub($port, ['-t', 'limits/#', '-q', '1', '-i', 'first']);
        $this->awaitSubscriptions($broker, 1);

        [$code] = $this->mosquittoPub($port, ['-t', 'limits/big', '-m', str_repeat('x', 2000), '-q', '1', '-i', 'big']);
        $this->assertNotSame(0, $code, 'a packet over max_packet_size is not acknowledged');
        $this->assertSame(0, $this->mosquittoPub($port, ['-t', 'limits/small', '-m', 'small', '-q', '1'])[0]);
        $this->awaitOutput($sub, 1);
        $this->assertSame(['small'], $this->lines($sub));

        $second = $this->client(['port' => $port, 'client_id' => 'second']);
        $this->assertTrue($second->waitConnected(10));
        [$code, $output] = $this->mosquittoPub($port, ['-t', 'limits/third', '-m', 'x', '-i', 'third']);
        $this->assertNotSame(0, $code, $output);
        $this->assertMatchesRegularExpression('/unavailable/i', $output);
        $second->publishSync('limits/after', 'still serving', 1, false, 10);
        $this->awaitOutput($sub, 2);
        $this->assertSame(['small', 'still serving'], $this->lines($sub));
    }

    public function testStopIsGracefulAndTheBrokerStartsAgain(): void
    {
        $broker = $this->broker();
        $port = $broker->port();
        $client = $this->client(['port' => $port]);
        $this->assertTrue($client->waitConnected(10));
        $this->assertTrue($broker->stop());
        $this->assertFalse($broker->stop(), 'a second stop() has nothing to stop');
        $this->assertFalse($broker->isRunning());
        $this->assertNull($broker->port());
        $this->assertSame(['running' => false, 'listeners' => [], 'clients' => 0, 'sessions' => 0, 'subscriptions' => 0, 'retained' => 0, 'messages_received' => 0, 'messages_sent' => 0, 'uptime' => 0.0], $broker->status());
        $this->awaitCondition(fn () => !$client->status()['connected'], 'its clients are disconnected');
        $this->assertFalse(Mosquitto::portAccepts($port));

        $broker->start();
        $this->assertIsInt($broker->port());
        $this->assertSame(0, $this->mosquittoPub($broker->port(), ['-t', 't', '-m', 'again'])[0]);
    }

    public function testAForkedChildCannotUseItsParentsBrokerAndLeavesItRunning(): void
    {
        $result = PhpScript::run(<<<'PHP'
            $broker = new Mqtt\Broker(['listen' => '127.0.0.1:0']);
            $broker->start();
            $pid = pcntl_fork();
            if ($pid === 0) {
                try {
                    $broker->status();
                    echo "child used it\n";
                } catch (Mqtt\MqttException $e) {
                    echo get_class($e), ': ', $e->getMessage(), "\n";
                }
                unset($broker); // dropped in the child: must not touch the parent's threads
                exit(0);
            }
            pcntl_waitpid($pid, $status);
            echo 'child exit ', pcntl_wexitstatus($status), "\n";
            $client = new Mqtt\Client(['port' => $broker->port()]);
            echo $client->waitConnected(10) ? "parent still serves\n" : "parent broken\n";
            // rmqtt counts a connection once its session runs, just after the CONNACK.
            for ($i = 0; $i < 200 && $broker->status()['clients'] !== 1; $i++) {
                usleep(50_000);
            }
            echo 'clients ', $broker->status()['clients'], "\n";
            PHP);
        $this->assertSame(0, $result->exitCode, $result->describe());
        $this->assertMatchesRegularExpression(
            "/^Mqtt\\\\MqttException: the broker was started by process \\d+: only that process can use it\n"
            . "child exit 0\nparent still serves\nclients 1\n$/",
            $result->stdout,
            $result->describe()
        );
    }

    public function testRunReturnsWhenASignalHandlerCallsStop(): void
    {
        $child = PhpChild::start(<<<'PHP'
            $broker = new Mqtt\Broker(['listen' => '127.0.0.1:0']);
            pcntl_async_signals(false);
            pcntl_signal(SIGUSR1, function () use ($broker) { echo "stopping\n"; $broker->stop(); });
            $broker->start();
            echo "port ", $broker->port(), "\n";
            $broker->run();
            echo "returned ", var_export($broker->isRunning(), true), "\n";
            PHP);
        $this->awaitCondition(fn () => str_contains($child->stdout(), 'port '), 'the child broker starts: ' . $child->describe());
        $child->signal(SIGUSR1);
        $this->assertTrue($child->wait(self::WAIT), $child->describe());
        $this->assertSame(0, $child->exitCode(), $child->describe());
        $this->assertStringContainsString("stopping\nreturned false", $child->stdout());
    }

    public function testBuildShExampleRunsOnTheBuiltInBroker(): void
    {
        $result = PhpScript::runFile(__DIR__ . '/../support/run-example.php', [__DIR__ . '/../../examples/publish.php'], [], 60.0);
        $this->assertSame(0, $result->exitCode, $result->describe());
        $this->assertStringContainsString('built-in broker (Mqtt\\Broker) listening on 127.0.0.1:', $result->stdout);
        $this->assertStringContainsString(
            "--- received by the subscriber (3 messages) ---\n"
            . "examples/greetings  hello from publish()\n"
            . "examples/greetings  fire and forget, QoS 0\n"
            . "examples/sensors/temperature  21.5\n",
            $result->stdout
        );
    }

    public function testTheArtisanCommandRunsTheBrokerUntilSigterm(): void
    {
        // The package's test application is a Laravel 8 skeleton, which Laravel 10 still
        // boots (laravel-adapter's suite runs on both); from 11 on its layout is another.
        $version = PhpScript::run('require "' . __DIR__ . '/../../laravel-adapter/tests/autoload.php"; echo Illuminate\Foundation\Application::VERSION;');
        $this->assertSame(0, $version->exitCode, $version->describe());
        if (version_compare($version->stdout, '11', '>=')) {
            $this->markTestSkipped("the package's test application runs on Laravel 8 to 10, this is Laravel {$version->stdout}");
        }
        $port = Mosquitto::freePort();
        $out = $this->dir() . '/artisan.out';
        $artisan = new BackgroundProcess(
            [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), __DIR__ . '/../../laravel-adapter/tests/app/artisan', 'mqtt-broadcast:broker', "--listen=127.0.0.1:$port"],
            $out,
            $out . '.err',
            array_merge(getenv(), ['MQTT_BROADCAST_APP_DIR' => $this->dir(), 'APP_ENV' => 'testing']),
            true
        );
        $this->processes[] = $artisan;
        $output = fn () => (string) @file_get_contents($out) . (string) @file_get_contents($out . '.err');
        $this->awaitCondition(fn () => str_contains($output(), "mqtt://127.0.0.1:$port"), 'the command says where it listens');

        $sub = $this->mosquittoSub($port, ['-t', 'artisan/#', '-q', '1']);
        $client = $this->client(['port' => $port]);
        $this->awaitProbe($client, $sub, 'artisan/probe');
        $client->close();

        $artisan->terminate();
        $this->assertTrue($artisan->wait(self::WAIT), $output());
        $this->assertSame(0, $artisan->exitCode(), $output());
        $this->assertStringContainsString('MQTT broker stopped.', $output());
    }

    // --- helpers ---

    private function broker(array $options = []): Broker
    {
        $broker = new Broker(array_replace(['listen' => '127.0.0.1:0'], $options));
        $broker->start();
        $this->brokers[] = $broker;
        return $broker;
    }

    /** A broker run() in a child process on $port, kept in $dir; returns once it listens. */
    private function brokerChild(int $port, string $dir): PhpChild
    {
        $child = PhpChild::start(<<<PHP
            \$broker = new Mqtt\\Broker(['listen' => '127.0.0.1:$port', 'persistence' => '$dir']);
            \$broker->start();
            echo "ready\\n";
            \$broker->run();
            echo "stopped\\n";
            PHP);
        $child->waitForLine('ready');
        return $child;
    }

    private function client(array $options, ?string $name = null): Client
    {
        $client = new Client(array_replace([
            'host' => '127.0.0.1',
            'client_id' => 'php-' . bin2hex(random_bytes(4)),
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 1.0],
        ], $options), $name ?? 'broker-test-' . bin2hex(random_bytes(4)));
        $this->clients[] = $client;
        return $client;
    }

    private function mosquittoSub(int $port, array $args): BackgroundProcess
    {
        $out = $this->dir() . '/sub-' . count($this->processes) . '.out';
        $process = new BackgroundProcess(
            ['mosquitto_sub', '-h', '127.0.0.1', '-p', (string) $port, '-k', '5', ...$args],
            $out,
            $out . '.err'
        );
        $this->processes[] = $process;
        $this->outputs[spl_object_id($process)] = $out;
        return $process;
    }

    /** @var array<int,string> */
    private array $outputs = [];

    /** @return array{0:int,1:string} exit code and output of a mosquitto_sub that ends by itself */
    private function mosquittoSubOnce(int $port, array $args): array
    {
        return $this->command(['mosquitto_sub', '-h', '127.0.0.1', '-p', (string) $port, '-W', '10', ...$args]);
    }

    /** @return array{0:int,1:string} exit code and output */
    private function mosquittoPub(int $port, array $args): array
    {
        return $this->command(['mosquitto_pub', '-h', '127.0.0.1', '-p', (string) $port, ...$args]);
    }

    /** @return array{0:int,1:string} */
    private function command(array $command): array
    {
        exec('timeout 20 ' . implode(' ', array_map('escapeshellarg', $command)) . ' 2>&1', $output, $code);
        return [$code, implode("\n", $output)];
    }

    /** @return list<string> the lines a background mosquitto_sub printed so far */
    private function lines(BackgroundProcess $process): array
    {
        $file = $this->outputs[spl_object_id($process)];
        clearstatcache(true, $file);
        $text = (string) @file_get_contents($file);
        return $text === '' ? [] : explode("\n", rtrim($text, "\n"));
    }

    private function awaitOutput(BackgroundProcess $process, int $lines): void
    {
        $this->awaitCondition(
            fn () => count($this->lines($process)) >= $lines,
            fn () => "$lines lines from mosquitto_sub, got: " . json_encode($this->lines($process))
                . ' ' . @file_get_contents($this->outputs[spl_object_id($process)] . '.err')
        );
    }

    private function awaitSubscriptions(Broker $broker, int $count): void
    {
        $this->awaitCondition(fn () => $broker->status()['subscriptions'] >= $count, "$count subscriptions on the broker");
    }

    /** Publishes probes until the subscriber prints one: its subscription is active. */
    private function awaitProbe(Client $client, BackgroundProcess $sub, string $topic): void
    {
        $this->awaitCondition(function () use ($client, $sub, $topic) {
            $client->publishSync($topic, 'probe', 1, false, 10);
            usleep(100_000);
            return in_array('probe', $this->lines($sub), true);
        }, 'the subscription is active');
    }

    /** @param string|\Closure():string $what */
    private function awaitCondition(callable $condition, string|\Closure $what): void
    {
        $deadline = microtime(true) + self::WAIT;
        while (!$condition()) {
            if (microtime(true) > $deadline) {
                $this->fail('timed out waiting for: ' . (is_string($what) ? $what : $what()));
            }
            usleep(20_000);
        }
    }

    private function next(Subscriber $subscriber): \Mqtt\Message
    {
        $deadline = microtime(true) + self::WAIT;
        while (($message = $subscriber->next(0.5)) === null) {
            if (microtime(true) > $deadline) {
                $this->fail('no message arrived');
            }
        }
        return $message;
    }

    private function dir(): string
    {
        if ($this->dir === null) {
            $this->dir = sys_get_temp_dir() . '/mqtt-broadcast-broker-' . bin2hex(random_bytes(4));
            mkdir($this->dir, 0700, true);
        }
        return $this->dir;
    }

    public function file(string $name, string $content): string
    {
        $path = $this->dir() . '/' . $name;
        file_put_contents($path, $content);
        return $path;
    }
}
