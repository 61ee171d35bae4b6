<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\Message;
use Mqtt\MqttException;
use Mqtt\Subscriber;
use Mqtt\TimeoutException;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpChild;

/**
 * MQTT 5 request/response against a real mosquitto: Client::request() answered
 * by Message::reply() in another PHP process, by a mosquitto_sub/mosquitto_pub
 * responder that shares no code with the extension; reply() answering
 * mosquitto_rr; a request nobody answers, and a reply that comes too late;
 * MQTT 3.1.1 connections, which have neither.
 */
final class RequestResponseTest extends MqttTestCase
{
    private const WAIT = 10.0;

    /** @var list<PhpChild|BackgroundProcess> */
    private array $processes = [];
    /** @var list<string> */
    private array $files = [];

    protected function tearDown(): void
    {
        parent::tearDown();
        foreach ($this->processes as $process) {
            if ($process instanceof PhpChild) {
                $process->kill();
            } elseif ($process->isRunning()) {
                posix_kill($process->pid(), SIGKILL);
            }
        }
        foreach ($this->files as $file) {
            @unlink($file);
        }
        $this->processes = [];
        $this->files = [];
    }

    public function testARequestIsAnsweredByReplyInAnotherProcessThroughThePrefix(): void
    {
        $topic = $this->topic('requests');
        $responder = $this->responder($topic);
        // The requester's prefix goes in front of its topics and of its response topic;
        // the responder, without one, replies on the response topic as it arrived.
        $client = $this->client($this->v5(['prefix' => 'app-1/', 'qos' => 1]));

        foreach (['first', 'second', 'third'] as $payload) {
            $reply = $client->request("$topic", $payload, self::WAIT, ['user_properties' => ['asked' => $payload]]);
            $this->assertInstanceOf(Message::class, $reply);
            $this->assertSame("re: $payload", $reply->payload, $responder->stdout() . $responder->stderr());
            $this->assertStringStartsWith('mqttb/replies/', $reply->topic, 'the reply topic, without the prefix');
            $this->assertSame(['answered' => $payload], $reply->properties['user_properties']);
            $this->assertArrayHasKey('correlation_data', $reply->properties);
        }
        $requests = array_values(array_map(
            static fn (string $line): array => explode(' ', $line),
            array_filter($responder->lines(), static fn (string $line): bool => str_starts_with($line, 'app-1/'))
        ));
        $this->assertCount(3, $requests, $responder->stdout());
        $this->assertSame('app-1/' . $topic, $requests[0][0], 'the request went out with the prefix');
        $this->assertStringStartsWith('app-1/mqttb/replies/', $requests[0][1], 'the response topic too');
        $correlations = array_column($requests, 2);
        $this->assertCount(3, array_unique($correlations), 'correlation data differs per request');
    }

    public function testARequestNobodyAnswersTimesOutAndItsLateReplyIsDropped(): void
    {
        $client = $this->client($this->v5());
        $started = microtime(true);
        try {
            $client->request($this->topic('nobody'), 'anyone?', 0.5);
            $this->fail('request() returned without a reply');
        } catch (TimeoutException $e) {
            $this->assertStringContainsString('no reply to the request on "' . $this->topic('nobody') . '"', $e->getMessage());
        }
        $waited = microtime(true) - $started;
        $this->assertGreaterThanOrEqual(0.5, $waited);
        $this->assertLessThan(3.0, $waited);

        // The responder answers "slow" after 1.5 s: that reply arrives while the next request waits.
        $topic = $this->topic('requests');
        $responder = $this->responder($topic);
        try {
            $client->request($topic, 'slow', 0.3);
            $this->fail('request() returned the slow reply in time');
        } catch (TimeoutException) {
        }
        $reply = $client->request($topic, 'fast', self::WAIT);
        $this->assertSame('re: fast', $reply->payload, 'the late reply to "slow" is not taken for the reply to "fast"');
        $this->assertSame(['answered' => 'fast'], $reply->properties['user_properties']);
        $this->assertSame(0, $client->status()['queued'] + $client->status()['in_flight']);
        $this->assertStringContainsString('replied slow', $responder->stdout());
    }

    public function testReplyAnswersMosquittoRr(): void
    {
        $topic = $this->topic('rr');
        $subscriber = new Subscriber([$this->client($this->v5(['qos' => 1]))]);
        $subscriber->subscribe($topic, 1, self::WAIT);
        $out = $this->file();
        $rr = new BackgroundProcess(
            ['mosquitto_rr', '-V', 'mqttv5', '-h', self::broker()->host(), '-p', (string) self::broker()->port(),
                '-t', $topic, '-e', $this->topic('rr-response'), '-m', 'what time is it?', '-q', '1',
                '-D', 'publish', 'correlation-data', 'rr-42', '-W', '10'],
            $out,
            $out
        );
        $this->processes[] = $rr;
        $request = $this->collect($subscriber, 1, 'the request of mosquitto_rr')[0];
        $this->assertSame('what time is it?', $request->payload);
        $this->assertSame($this->topic('rr-response'), $request->properties['response_topic']);
        $this->assertSame('rr-42', $request->properties['correlation_data']);

        $request->reply('half past four', ['content_type' => 'text/plain']);
        $this->assertTrue($rr->wait(self::WAIT), 'mosquitto_rr still waits: ' . file_get_contents($out));
        $this->assertSame(0, $rr->exitCode(), (string) file_get_contents($out));
        $this->assertSame("half past four\n", file_get_contents($out));
    }

    public function testARequestIsAnsweredByAMosquittoSubAndPubResponder(): void
    {
        $topic = $this->topic('shell');
        $broker = self::broker();
        $common = sprintf('-V mqttv5 -h %s -p %d', escapeshellarg($broker->host()), $broker->port());
        $ready = $this->file();
        // One request: its response topic and correlation data, printed by
        // mosquitto_sub, are what mosquitto_pub answers with.
        $script = sprintf(
            'mosquitto_sub %1$s -q 1 -C 1 -t %2$s -F "%%R %%D" > %3$s.request & sub=$!; '
            . 'sleep 0.5; echo ready > %3$s; wait $sub; '
            . 'read response correlation < %3$s.request; '
            . 'mosquitto_pub %1$s -q 1 -t "$response" -D publish correlation-data "$correlation" -m "from the shell"',
            $common,
            escapeshellarg($topic),
            $ready
        );
        $this->files[] = "$ready.request";
        $shell = new BackgroundProcess(['sh', '-c', $script], $this->file(), $this->file());
        $this->processes[] = $shell;
        $deadline = microtime(true) + self::WAIT;
        while (trim((string) @file_get_contents($ready)) !== 'ready') {
            if (microtime(true) > $deadline) {
                $this->fail('mosquitto_sub did not start');
            }
            usleep(20_000);
        }
        $client = $this->client($this->v5(['qos' => 1]));
        $reply = $client->request($topic, 'hello, shell', self::WAIT);
        $this->assertSame('from the shell', $reply->payload);
    }

    public function testMqtt311HasNoRequestResponse(): void
    {
        $options = $this->options(['protocol' => '3.1.1']);
        $client = $this->client($options);
        try {
            $client->request($this->topic('x'), 'y', 1.0);
            $this->fail('request() on MQTT 3.1.1');
        } catch (MqttException $e) {
            $this->assertNotInstanceOf(TimeoutException::class, $e);
            $this->assertMatchesRegularExpression('/^Mqtt\\\\Client::request\(\) needs MQTT 5: connection ".*" speaks MQTT 3\.1\.1; create it with option "protocol" => "5"$/', $e->getMessage());
        }

        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('in'), 1, self::WAIT);
        $client->publishSync($this->topic('in'), 'a 3.1.1 message', 1, false, self::WAIT);
        $message = $this->collect($subscriber, 1, 'a 3.1.1 message')[0];
        $this->expectException(MqttException::class);
        $this->expectExceptionMessage('Mqtt\Message::reply() needs MQTT 5');
        $message->reply('no');
    }

    public function testReplyToAMessageThatIsNoRequestAndBadArgumentsSayWhy(): void
    {
        $client = $this->client($this->v5(['qos' => 1]));
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($this->topic('in'), 1, self::WAIT);
        $client->publishSync($this->topic('in'), 'no request', 1, false, self::WAIT);
        $message = $this->collect($subscriber, 1, 'a plain message')[0];
        try {
            $message->reply('to whom?');
            $this->fail('reply() to a message without response topic');
        } catch (MqttException $e) {
            $this->assertSame('the message on "' . $this->topic('in') . '" is not a request: it carries no response topic to reply to', $e->getMessage());
        }

        foreach ([
            [['correlation_data' => 'mine'], 'argument #4 ($properties) entry "correlation_data" is set by request() itself'],
            [['response_topic' => 'mine'], 'argument #4 ($properties) entry "response_topic" is set by request() itself'],
            [['content_type' => 5], 'argument #4 ($properties) entry "content_type" must be a UTF-8 string of at most 65535 bytes, got 5'],
        ] as [$properties, $expected]) {
            try {
                $client->request($this->topic('x'), 'y', 1.0, $properties);
                $this->fail('request() took ' . json_encode($properties));
            } catch (\ValueError $e) {
                $this->assertSame($expected, $e->getMessage());
            }
        }
        try {
            $client->request($this->topic('x'), 'y', -1.0);
            $this->fail('request() took a negative timeout');
        } catch (\ValueError $e) {
            $this->assertSame('argument #3 ($timeout) must be a finite number of seconds >= 0, got -1.0', $e->getMessage());
        }
        try {
            $client->request('bad/+', 'y', 1.0);
            $this->fail('request() took a wildcard topic');
        } catch (\ValueError $e) {
            $this->assertStringStartsWith('argument #1 ($topic)', $e->getMessage());
        }
    }

    /**
     * A PHP process answering every request on $topic with "re: {payload}" (after 1.5 s for
     * "slow"); it prints "ready", then "{topic} {response topic} {correlation data}" per request.
     */
    private function responder(string $topic): PhpChild
    {
        $child = PhpChild::start(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%1$s, 'responder');
            $subscriber = new Mqtt\Subscriber([$client]);
            // Its own topic, and with a requester's prefix in front.
            $subscriber->subscribe(%2$s, qos: 1, timeout: 10.0);
            $subscriber->subscribe('+/' . %2$s, qos: 1, timeout: 10.0);
            echo "ready\n";
            $subscriber->loop(function (Mqtt\Message $request) {
                echo $request->topic, ' ', $request->properties['response_topic'], ' ', $request->properties['correlation_data'], "\n";
                if ($request->payload === 'slow') {
                    usleep(1_500_000);
                }
                $request->reply('re: ' . $request->payload, ['user_properties' => ['answered' => $request->payload]]);
                echo "replied {$request->payload}\n";
            }, timeout: 60.0);
            PHP,
            var_export($this->v5(['qos' => 1]), true),
            var_export($topic, true)
        ));
        $this->processes[] = $child;
        $child->waitForLine('ready', self::WAIT);
        return $child;
    }

    private function v5(array $overrides = []): array
    {
        return $this->options(array_replace(['protocol' => '5'], $overrides));
    }

    private function file(): string
    {
        $file = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-rr-');
        $this->files[] = $file;
        return $file;
    }
}
