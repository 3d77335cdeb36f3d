# The Ruby half of the ruby filter, evaluated once when the VM starts (vm.rs).
# LogStash::Event and LogStash::Timestamp themselves are Rust classes (event_api.rs);
# here: the logger, and the two kinds of filter instance (an inline `code` snippet, a
# `path` script with its `test` blocks), ported from logstash-filter-ruby
# (lib/logstash/filters/ruby.rb and ruby/script/*.rb).

class LogStash::Timestamp
  include Comparable
end

class LogStash::Event
  # Logstash's event.rb: a string key or a field reference.
  def [](field) = get(field)
end

module LogStashMesos
  # `logger.info("message", :key => value)`, as Logstash's loggers: into tracing.
  class Logger
    LEVELS = %w[trace debug info warn error fatal].freeze

    def initialize(name)
      @name = name
    end

    LEVELS.each_with_index do |level, i|
      define_method(level) do |message = nil, data = nil, &block|
        message = block.call if block && message.nil?
        LogStashMesos.__log(i, @name, message.to_s, data.nil? ? "" : data.inspect)
        nil
      end
      define_method("#{level}?") { LogStashMesos.__log_enabled(i) }
    end
  end

  # One `ruby { code => ... init => ... }`: `init` runs once in this object, `code`
  # becomes its `filter_method`, so instance variables set by `init` are seen by every
  # call, from every pipeline worker.
  class InlineFilter
    attr_reader :logger

    def initialize(name, init, code)
      @logger = Logger.new(name)
      instance_eval(init, "(ruby filter init)", 1) if init
      instance_eval("define_singleton_method :filter_method do |event, &new_event_block|\n#{code}\nend",
                    "(ruby filter code)", 0)
    end

    # nil, the Array of events passed to new_event_block, or the exception raised.
    def __lsm_run(event)
      out = nil
      filter_method(event) { |e| (out ||= []) << e }
      out
    rescue Exception => e # rubocop:disable Lint/RescueException -- as Logstash: never kill a worker
      e
    end

    # Logstash's filter_matched is applied by the pipeline when the call returns.
    def filter_matched(_event) = nil
  end

  # A script's failing `test` block, a bad `filter` result: raised at load (a config
  # error) or returned per event (the event is tagged).
  class ScriptError < StandardError; end

  # Raised at run time when `filter` returned something other than an Array of events.
  class ResultError < StandardError; end

  # A blank area for the script to live in (ExecutionContext in logstash-filter-ruby).
  class ExecutionContext
    def initialize(name, logger)
      @__name__ = name
      @__logger__ = logger
    end

    def logger = @__logger__

    def register(_params)
      logger.debug("skipping register since the script didn't define it")
    end

    def to_s = "<ExecutionContext #{@__name__}>"
  end

  # One `ruby { path => ... script_params => {...} }`.
  class ScriptFilter
    attr_reader :script_path, :content, :execution_context

    def initialize(name, path, params)
      @name = name
      @logger = Logger.new(name)
      @script_path = path
      @parameters = params
      @content = File.read(path)
      @test_contexts = []
      begin
        @execution_context = make_execution_context(:main, false)
        load_execution_context(@execution_context)
        unless @execution_context.methods.include?(:filter)
          raise "Script does not define a filter! Please ensure that you have defined a filter method!"
        end
      rescue ::ScriptError
        raise # SyntaxError keeps its class: vm.rs reports its line
      rescue => e
        raise ScriptError, "Error during load of '#{path}': #{e.inspect}"
      end
      run_tests
      begin
        @execution_context.register(@parameters)
      rescue => e
        raise ScriptError, "Error during register of '#{path}': #{e.inspect}"
      end
    end

    def make_execution_context(name, test_mode)
      ec = ExecutionContext.new(name, @logger)
      this = self
      if test_mode
        ec.define_singleton_method(:test) { |_name, &_block| nil }
      else
        ec.define_singleton_method(:test) { |test_name, &block| this.test(test_name, &block) }
      end
      ec
    end

    def load_execution_context(ec)
      ec.instance_eval(@content, @script_path, 1)
    end

    def test(name, &block)
      tc = TestContext.new(self, name)
      tc.instance_eval(&block)
      @test_contexts << tc
    end

    def run_tests
      results = @test_contexts.map(&:execute).reduce({ passed: 0, failed: 0, errored: 0 }) do |acc, res|
        acc[:passed] += res[:passed]
        acc[:failed] += res[:failed]
        acc[:errored] += res[:errored]
        acc
      end
      @logger.info("Test run complete", script_path: @script_path, results: results) unless @test_contexts.empty?
      bad = results[:failed] + results[:errored]
      raise ScriptError, "Script '#{@script_path}' had #{bad} failing tests! #{@failures.to_a.join('; ')}" if bad > 0
    end

    def record_failure(message)
      (@failures ||= []) << message
      @logger.error(message)
    end

    def self.check_result_events!(results)
      unless results.is_a?(Array)
        raise ResultError, "Custom script did not return an array from 'filter'. Only arrays may be returned!"
      end
      results.each do |r_event|
        next if r_event.is_a?(::LogStash::Event)
        raise ResultError, "Custom script returned a non event object '#{r_event.inspect}'!" \
                           " You must an array of events from this function! To drop an event simply return nil."
      end
    end

    # The Array of events `filter` returned, or the exception raised (a ResultError
    # when the result was not an Array of events).
    def __lsm_run(event)
      results = @execution_context.filter(event)
      results = [] if results.nil?
      ScriptFilter.check_result_events!(results)
      results
    rescue Exception => e # rubocop:disable Lint/RescueException -- never kill a worker
      e
    end
  end

  # A `test "name" do ... end` block of a script.
  class TestContext
    attr_reader :name, :script

    def initialize(script, name)
      @name = name
      @script = script
      @expect_contexts = []
      @parameters = {}
      @execution_context = script.make_execution_context("Test/#{name}", true)
      script.load_execution_context(@execution_context)
    end

    def parameters(&block)
      return @parameters unless block

      @parameters = block.call
      raise ArgumentError, "Test parameters must be a hash in #{@name}!" unless @parameters.is_a?(Hash)

      @execution_context.register(@parameters)
    end

    def in_event(&block)
      return @in_events unless block

      orig = block.call
      hashes = orig.is_a?(Hash) ? [orig] : orig
      hashes.each do |e|
        next if e.is_a?(Hash)

        raise ArgumentError, "In event for #{name} must receive either a hash or an array of hashes! got a '#{e.class}' in #{hashes.inspect}"
      end
      @in_events = Array(hashes).map { |h| ::LogStash::Event.new(h) }
    end
    alias in_events in_event

    def expect(name, &block)
      @expect_contexts << [name, block]
    end

    def execute
      raise "You must declare an `in_event` to run tests!" unless @in_events

      results = []
      @in_events.each do |e|
        single = @execution_context.filter(e)
        ScriptFilter.check_result_events!(single)
        results += single
      end
      @expect_contexts.map do |(expect_name, block)|
        begin
          if block.call(results)
            :passed
          else
            @script.record_failure("***TEST FAILURE FOR: '#{@name} #{expect_name}'***")
            :failed
          end
        rescue => e
          @script.record_failure("***TEST RAISED ERROR: '#{@name} #{expect_name}'*** #{e.inspect}")
          :errored
        end
      end.each_with_object({ passed: 0, failed: 0, errored: 0 }) { |res, acc| acc[res] += 1 }
    end
  end
end

module LogStash
  module Filters
    class Ruby
      ScriptError = ::LogStashMesos::ScriptError
    end
  end
end
